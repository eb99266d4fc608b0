-- Usage metrics (GetUsageMetrics): the count of each completed workflow per UTC day, kept with
-- every audit event appended (in its transaction), so a year of them is a few hundred rows to
-- read however large the audit log grows. Filled here from the audit log so far (times are
-- microseconds since the epoch); a decision tally (CheckImpersonation) counts every check it
-- stands for. The actions counted are the service's `domain::usage::Metric::counted`.
CREATE TABLE usage_counts (
    day    TEXT NOT NULL,
    metric TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (day, metric)
);

WITH m (action, metric) AS (
    VALUES ('CreateUser', 'users_created'),
           ('GrantPermission', 'permissions_granted'),
           ('CreateGroup', 'groups_created'),
           ('CheckImpersonation', 'impersonations_checked')
)
INSERT INTO usage_counts (day, metric, count)
SELECT strftime('%Y-%m-%d', e.time / 1000000, 'unixepoch'), m.metric,
       sum(CASE WHEN e.action = 'CheckImpersonation'
                THEN COALESCE(json_extract(e.details, '$.count'), 1)
                ELSE 1 END)
FROM audit_events e
JOIN m ON m.action = e.action
GROUP BY 1, 2;
