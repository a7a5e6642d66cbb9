-- Each user's time zone (issue 13), for broadcasts sent at a local
-- wall-clock time: an IANA zone set by an admin or an import, or learned
-- from the token's OIDC zoneinfo claim for a user learned from tokens; ''
-- when unknown (the token's zoneinfo, else the broadcast's default, apply).
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT '';
