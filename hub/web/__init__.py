"""The browser front end: the team inbox (and the operator dashboard), server-rendered."""
