-- The IAM whose syncs manage a group's memberships (NULL: managed here only). A sync joins users
-- only to groups its IAM manages that carry no role assignments, so an endpoint cannot put
-- anyone in a group holding rights given here.
ALTER TABLE groups ADD COLUMN managed_by_iam_id TEXT REFERENCES iams (id) ON DELETE SET NULL;
CREATE INDEX groups_managed_by_iam_idx ON groups (managed_by_iam_id)
    WHERE managed_by_iam_id IS NOT NULL;

-- Groups syncs made before: every member joined through a sync, and all belong to one IAM
-- other than the built-in one.
UPDATE groups SET managed_by_iam_id = (
    SELECT u.iam_id FROM group_members m JOIN users u ON u.id = m.user_id
    WHERE m.group_id = groups.id LIMIT 1)
WHERE EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id)
  AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.id AND NOT m.external)
  AND NOT EXISTS (
      SELECT 1 FROM group_members m JOIN users u ON u.id = m.user_id
      WHERE m.group_id = groups.id AND u.iam_id = '00000000-0000-7000-8000-000000000001')
  AND (SELECT count(DISTINCT u.iam_id) FROM group_members m JOIN users u ON u.id = m.user_id
       WHERE m.group_id = groups.id) = 1;
