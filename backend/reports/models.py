"""Weekly production reports: generation, storage, download, the nightly job."""
