-- link_clicks: one row per action and link URL that was clicked (`redirection` hits).
-- action_id: the NP6 action (or push notification) id
-- link_url: the URL the click led to (`hits.link_url`)
-- link_label: the link's label (`hits.link_label`; the greatest when one URL has several)
-- human_clicks: clicks not flagged `is_robot`
-- unique_human_clickers: distinct targets with a human click on the link
-- robot_clicks: clicks flagged `is_robot` (link scanners, security gateways)
-- first_click_at: the first click, human or robot
-- last_click_at: the last click, human or robot
SELECT action_id, link_url, max(link_label) AS link_label,
       count(CASE WHEN NOT coalesce(is_robot, FALSE) THEN 1 END) AS human_clicks,
       count(DISTINCT CASE WHEN NOT coalesce(is_robot, FALSE) THEN coalesce(receiver_id, receiver_value) END)
           AS unique_human_clickers,
       count(CASE WHEN is_robot THEN 1 END) AS robot_clicks,
       min("timestamp") AS first_click_at, max("timestamp") AS last_click_at
FROM hits
WHERE hit_type = 'redirection' AND action_id IS NOT NULL
GROUP BY action_id, link_url
