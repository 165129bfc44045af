-- engagement_daily: one row per UTC day and action with any send, bounce or hit that day.
-- day: the UTC date of the events
-- action_id: the NP6 action (or push notification) id
-- channel: `email`, `sms` or `notification`
-- sends: activation events that day
-- hard_bounces: bounce events with verdict `hard` that day
-- soft_bounces: bounce events with verdict `soft` that day
-- human_opens: `open` hits not flagged `is_robot`
-- robot_opens: `open` hits flagged `is_robot`
-- unique_human_openers: distinct targets with a human `open` hit that day
-- human_clicks: `redirection` hits not flagged `is_robot`
-- unique_human_clickers: distinct targets with a human `redirection` hit that day
WITH events AS (
    SELECT CAST("timestamp" AT TIME ZONE 'UTC' AS DATE) AS day, action_id, channel, 'send' AS kind,
           CAST(NULL AS VARCHAR) AS target, FALSE AS robot
    FROM activations WHERE action_id IS NOT NULL
    UNION ALL
    SELECT CAST("timestamp" AT TIME ZONE 'UTC' AS DATE), action_id, channel, 'bounce_' || coalesce(bounce_verdict, ''),
           NULL, FALSE
    FROM bounces WHERE action_id IS NOT NULL
    UNION ALL
    SELECT CAST("timestamp" AT TIME ZONE 'UTC' AS DATE), action_id, channel, hit_type,
           coalesce(receiver_id, receiver_value), coalesce(is_robot, FALSE)
    FROM hits WHERE action_id IS NOT NULL AND hit_type IN ('open', 'redirection')
)
SELECT day, action_id, max(channel) AS channel,
       count(CASE WHEN kind = 'send' THEN 1 END) AS sends,
       count(CASE WHEN kind = 'bounce_hard' THEN 1 END) AS hard_bounces,
       count(CASE WHEN kind = 'bounce_soft' THEN 1 END) AS soft_bounces,
       count(CASE WHEN kind = 'open' AND NOT robot THEN 1 END) AS human_opens,
       count(CASE WHEN kind = 'open' AND robot THEN 1 END) AS robot_opens,
       count(DISTINCT CASE WHEN kind = 'open' AND NOT robot THEN target END) AS unique_human_openers,
       count(CASE WHEN kind = 'redirection' AND NOT robot THEN 1 END) AS human_clicks,
       count(DISTINCT CASE WHEN kind = 'redirection' AND NOT robot THEN target END) AS unique_human_clickers
FROM events
GROUP BY day, action_id
