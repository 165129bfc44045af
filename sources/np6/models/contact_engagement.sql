-- contact_engagement: one row per target (`coalesce(receiver_id, receiver_value)`) that was sent to, bounced or hit.
-- target_id: the contact's NP6 id (or the receiver value where the event names no id)
-- sends: activation events to the target
-- hard_bounces: bounce events with verdict `hard`
-- soft_bounces: bounce events with verdict `soft`
-- last_send_at: the target's last activation
-- last_human_open_at: the target's last `open` hit not flagged `is_robot`
-- last_human_click_at: the target's last `redirection` hit not flagged `is_robot`
-- last_engagement_at: the later of last_human_open_at and last_human_click_at
-- days_since_last_engagement: whole days from last_engagement_at (UTC date) to today; null without engagement
-- redlisted_mail_at: when the contact was put on the mail redlist (`targets.redlist_mail_at`); null when not, or not fetched
-- redlisted_sms_at: when the contact was put on the SMS redlist (`targets.redlist_sms_at`)
-- deleted_at: when NP6 first answered 404 for the contact (`targets.deleted_at`)
WITH events AS (
    SELECT coalesce(receiver_id, receiver_value) AS target_id, 'send' AS kind, "timestamp" FROM activations
    UNION ALL
    SELECT coalesce(receiver_id, receiver_value), 'bounce_' || coalesce(bounce_verdict, ''), "timestamp" FROM bounces
    UNION ALL
    SELECT coalesce(receiver_id, receiver_value), hit_type, "timestamp"
    FROM hits WHERE hit_type IN ('open', 'redirection') AND NOT coalesce(is_robot, FALSE)
), per_target AS (
    SELECT target_id, count(CASE WHEN kind = 'send' THEN 1 END) AS sends,
           count(CASE WHEN kind = 'bounce_hard' THEN 1 END) AS hard_bounces,
           count(CASE WHEN kind = 'bounce_soft' THEN 1 END) AS soft_bounces,
           max(CASE WHEN kind = 'send' THEN "timestamp" END) AS last_send_at,
           max(CASE WHEN kind = 'open' THEN "timestamp" END) AS last_human_open_at,
           max(CASE WHEN kind = 'redirection' THEN "timestamp" END) AS last_human_click_at,
           max(CASE WHEN kind IN ('open', 'redirection') THEN "timestamp" END) AS last_engagement_at
    FROM events WHERE target_id IS NOT NULL GROUP BY target_id
)
SELECT p.target_id, p.sends, p.hard_bounces, p.soft_bounces, p.last_send_at, p.last_human_open_at,
       p.last_human_click_at, p.last_engagement_at,
       date_diff('day', CAST(p.last_engagement_at AT TIME ZONE 'UTC' AS DATE), current_date) AS days_since_last_engagement,
       t.redlist_mail_at AS redlisted_mail_at, t.redlist_sms_at AS redlisted_sms_at, t.deleted_at
FROM per_target AS p
LEFT JOIN targets AS t ON t.id = p.target_id
