"""Reports: daily rollups per tenant (services keep them, selectors read them), the summary
API, the CSV export and the reports page. See automation.models.ReportRollup."""
