"""Reading what ran: status, the collector, the results table, pandas, plots, clean-up."""
