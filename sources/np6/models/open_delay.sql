-- open_delay: one row per action with at least one target that opened after its first send.
-- action_id: the NP6 action (or push notification) id
-- openers_measured: targets whose first human open came at or after their first send of the action
-- median_seconds: median seconds from a target's first send to its first human open (interpolated)
-- p90_seconds: 90th percentile of those seconds (interpolated)
WITH first_send AS (
    SELECT action_id, coalesce(receiver_id, receiver_value) AS target, min("timestamp") AS sent_at
    FROM activations WHERE action_id IS NOT NULL GROUP BY action_id, coalesce(receiver_id, receiver_value)
), first_open AS (
    SELECT action_id, coalesce(receiver_id, receiver_value) AS target, min("timestamp") AS opened_at
    FROM hits WHERE hit_type = 'open' AND NOT coalesce(is_robot, FALSE) AND action_id IS NOT NULL
    GROUP BY action_id, coalesce(receiver_id, receiver_value)
), delays AS (
    SELECT s.action_id, date_diff('millisecond', s.sent_at, o.opened_at) / 1000.0 AS seconds
    FROM first_send AS s JOIN first_open AS o ON o.action_id = s.action_id AND o.target = s.target
    WHERE o.opened_at >= s.sent_at
)
SELECT action_id, count(*) AS openers_measured,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90_seconds
FROM delays
GROUP BY action_id
