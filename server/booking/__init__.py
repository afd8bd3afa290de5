"""Visit bookings (来庁予約, 待たない): the city's booking rules, free slots, holds, bookings, reminders."""
