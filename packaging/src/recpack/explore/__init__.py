"""`recpack explore`: what a dataset holds, as an HTML report with figures and a terminal summary."""
