"""Real local servers standing in for the outside world in tests: SMTP, an SMS provider, bKash and Nagad."""
