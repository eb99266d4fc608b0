-- Usage metrics (GetUsageMetrics): the count of each completed workflow per UTC day, kept with
-- every audit event appended (in its transaction), so a year of them is a few hundred rows to
-- read however large the audit log grows. Filled here from the audit log so far; a decision
-- tally (CheckImpersonation) counts every check it stands for. The actions counted are the
-- service's `domain::usage::Metric::counted`.
CREATE TABLE usage_counts (
    day    text NOT NULL,
    metric text NOT NULL,
    count  bigint NOT NULL,
    PRIMARY KEY (day, metric)
);

WITH m (action, metric) AS (
    VALUES ('CreateUser', 'users_created'),
           ('GrantPermission', 'permissions_granted'),
           ('CreateGroup', 'groups_created'),
           ('CheckImpersonation', 'impersonations_checked')
)
INSERT INTO usage_counts (day, metric, count)
SELECT to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), m.metric,
       sum(CASE WHEN e.action = 'CheckImpersonation'
                THEN COALESCE((e.details::jsonb ->> 'count')::bigint, 1)
                ELSE 1 END)
FROM audit_events e
JOIN m ON m.action = e.action
GROUP BY 1, 2;
