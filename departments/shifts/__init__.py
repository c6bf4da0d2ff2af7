"""Shifts: a member's weekly hours in their time zone and their leave; the shift clock that
keeps `Membership.on_shift` (and takes members offline when a shift ends); who is on now
and who is next in a department."""
