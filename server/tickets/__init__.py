"""The one queue (待たない): tickets for bookings and walk-ins, the booths' calls, the board and the phones."""
