"""The member site's views, one module per area of pages (memberweb/urls.py, memberweb/campaign_urls.py)."""
