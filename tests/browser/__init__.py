"""Browser tests: the web app driven in headless Chromium through Playwright."""
