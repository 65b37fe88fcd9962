"""Headless Chromium for the console's browser tests: start it, log in through the real form."""

from __future__ import annotations

import shutil
from typing import Any

from tests.console.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def open_chromium(*arguments: str) -> Any:
    """A headless Chromium driven by Selenium (quit it when done), with extra command-line `arguments`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,2400",
        *arguments,
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))


def log_in_as(driver: Any, base: str, name: str, wait: Any) -> None:
    """Log in through the console's login form and wait to leave it."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/console/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    wait.until(lambda d: "/console/login" not in d.current_url)
