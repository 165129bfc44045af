-- engagement_by_action: one row per action (email, SMS or push notification): sends, bounces, human opens and clicks, robot opens, rates.
-- action_id: the NP6 action id (a push notification's id for channel `notification`)
-- action_name: the action's name from `actions`, else from `notifications`; null when neither holds it
-- channel: `email`, `sms` or `notification`, from the action's events
-- sends: activation events (messages handed over for sending)
-- hard_bounces: bounce events with `bounce_verdict` `hard`
-- soft_bounces: bounce events with `bounce_verdict` `soft`
-- unique_human_openers: distinct targets (`coalesce(receiver_id, receiver_value)`) with at least one `open` hit not flagged `is_robot`
-- unique_human_clickers: distinct targets with at least one `redirection` (click) hit not flagged `is_robot`
-- robot_opens: `open` hits flagged `is_robot`
-- unsubscribes: distinct targets with at least one `unsubscribe` hit not flagged `is_robot`
-- human_open_rate: unique_human_openers / sends (null without sends)
-- click_rate: unique_human_clickers / sends (null without sends)
-- click_to_open_rate: unique_human_clickers / unique_human_openers (null without openers)
-- first_send_at: the action's first activation
-- last_send_at: the action's last activation
WITH sent AS (
    SELECT action_id, max(channel) AS channel, count(*) AS sends, min("timestamp") AS first_send_at,
           max("timestamp") AS last_send_at
    FROM activations WHERE action_id IS NOT NULL GROUP BY action_id
), bounced AS (
    SELECT action_id, max(channel) AS channel,
           count(CASE WHEN bounce_verdict = 'hard' THEN 1 END) AS hard_bounces,
           count(CASE WHEN bounce_verdict = 'soft' THEN 1 END) AS soft_bounces
    FROM bounces WHERE action_id IS NOT NULL GROUP BY action_id
), hit AS (
    SELECT action_id, max(channel) AS channel,
           count(DISTINCT CASE WHEN hit_type = 'open' AND NOT coalesce(is_robot, FALSE)
                 THEN coalesce(receiver_id, receiver_value) END) AS unique_human_openers,
           count(DISTINCT CASE WHEN hit_type = 'redirection' AND NOT coalesce(is_robot, FALSE)
                 THEN coalesce(receiver_id, receiver_value) END) AS unique_human_clickers,
           count(CASE WHEN hit_type = 'open' AND is_robot THEN 1 END) AS robot_opens,
           count(DISTINCT CASE WHEN hit_type = 'unsubscribe' AND NOT coalesce(is_robot, FALSE)
                 THEN coalesce(receiver_id, receiver_value) END) AS unsubscribes
    FROM hits WHERE action_id IS NOT NULL GROUP BY action_id
), ids AS (
    SELECT action_id FROM sent UNION SELECT action_id FROM bounced UNION SELECT action_id FROM hit
), figures AS (
    SELECT ids.action_id, coalesce(sent.channel, bounced.channel, hit.channel) AS channel,
           coalesce(sent.sends, 0) AS sends, coalesce(bounced.hard_bounces, 0) AS hard_bounces,
           coalesce(bounced.soft_bounces, 0) AS soft_bounces,
           coalesce(hit.unique_human_openers, 0) AS unique_human_openers,
           coalesce(hit.unique_human_clickers, 0) AS unique_human_clickers,
           coalesce(hit.robot_opens, 0) AS robot_opens, coalesce(hit.unsubscribes, 0) AS unsubscribes,
           sent.first_send_at, sent.last_send_at
    FROM ids
    LEFT JOIN sent ON sent.action_id = ids.action_id
    LEFT JOIN bounced ON bounced.action_id = ids.action_id
    LEFT JOIN hit ON hit.action_id = ids.action_id
)
SELECT f.action_id, coalesce(a.name, n.name) AS action_name, f.channel, f.sends, f.hard_bounces,
       f.soft_bounces, f.unique_human_openers, f.unique_human_clickers, f.robot_opens, f.unsubscribes,
       CASE WHEN f.sends > 0 THEN CAST(f.unique_human_openers AS DOUBLE) / f.sends END AS human_open_rate,
       CASE WHEN f.sends > 0 THEN CAST(f.unique_human_clickers AS DOUBLE) / f.sends END AS click_rate,
       CASE WHEN f.unique_human_openers > 0
            THEN CAST(f.unique_human_clickers AS DOUBLE) / f.unique_human_openers END AS click_to_open_rate,
       f.first_send_at, f.last_send_at
FROM figures AS f
LEFT JOIN actions AS a ON a.id = f.action_id
LEFT JOIN notifications AS n ON CAST(n.id AS VARCHAR) = f.action_id
