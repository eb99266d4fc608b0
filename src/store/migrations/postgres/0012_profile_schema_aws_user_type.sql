-- The AWS user type the S3 names a profile schema entry sets get (NULL on other platforms).
ALTER TABLE iam_profile_schema ADD COLUMN aws_user_type TEXT;
