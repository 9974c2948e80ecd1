"""Reports built from the service's own data: the weekly situation report (reports.weekly), its
schedule per organisation and its delivery (imports missions, alerts, incidents and geo)."""
