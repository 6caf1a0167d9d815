"""Settings for `make lint`'s migration check (issue 30): django-migration-linter, a development
dependency, reads each migration's SQL on PostgreSQL and fails on what would break the release still
serving (a NOT NULL column without a database default, a dropped or renamed column or table, ...).

The migrations listed below were released before the check and are applied wherever the portal runs:
history cannot be rewritten, so they are ignored by name; every migration after them is checked."""

from . import *  # noqa: F403
from . import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]

RELEASED_BEFORE_THE_CHECK = [
    "0002_preference_funnel_campaign_watch",  # analytics
    "0003_mall_completed",  # campaigns
    "0005_notification_delivery",
    "0006_referral_rules_birthday_gift_audience",
    "0007_scene_message_templates",
    "0008_notification_status_marketing",
    "0010_scene_preferred_category",
    "0005_member_price",  # membership
    "0006_programme_rules",
    "0008_profile_points",
    "0011_programsettings_api_token_days",
    "0014_member_email_wechat",
    "0015_programsettings_quiet_hours_message_cap",
    "0016_offline_sales",
    "0002_member_price",  # pos
    "0003_offline_sales",
]

MIGRATION_LINTER_OPTIONS = {
    "include_apps": ["core", "membership", "campaigns", "pos", "analytics", "memberweb", "integrations", "portal"],
    "ignore_name": RELEASED_BEFORE_THE_CHECK,
    "no_cache": True,
    "quiet": ["ok"],
}
