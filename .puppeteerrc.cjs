// The browser comes from the system (scripts/setup.sh installs Chromium); never download one.
module.exports = { skipDownload: true };
