"""War-room screens: incidents (main), business-services board, unmapped alerts, help."""
