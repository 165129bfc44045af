-- deliverability_by_domain: one row per recipient domain and UTC day with an email send or bounce.
-- domain: the part of the recipient address after `@`, lower-cased
-- day: the UTC date of the events
-- sends: email activation events to the domain that day
-- hard_bounces: bounce events with verdict `hard`
-- soft_bounces: bounce events with verdict `soft`
-- bounce_rate: (hard_bounces + soft_bounces) / sends (null without sends)
WITH events AS (
    SELECT lower(split_part(recipient, '@', 2)) AS domain, CAST("timestamp" AT TIME ZONE 'UTC' AS DATE) AS day,
           'send' AS kind
    FROM activations WHERE channel = 'email' AND recipient LIKE '%@%'
    UNION ALL
    SELECT lower(split_part(recipient, '@', 2)), CAST("timestamp" AT TIME ZONE 'UTC' AS DATE),
           coalesce(bounce_verdict, '')
    FROM bounces WHERE channel = 'email' AND recipient LIKE '%@%'
), counted AS (
    SELECT domain, day, count(CASE WHEN kind = 'send' THEN 1 END) AS sends,
           count(CASE WHEN kind = 'hard' THEN 1 END) AS hard_bounces,
           count(CASE WHEN kind = 'soft' THEN 1 END) AS soft_bounces
    FROM events GROUP BY domain, day
)
SELECT domain, day, sends, hard_bounces, soft_bounces,
       CASE WHEN sends > 0 THEN CAST(hard_bounces + soft_bounces AS DOUBLE) / sends END AS bounce_rate
FROM counted
