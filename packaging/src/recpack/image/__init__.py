"""One image file into the bytes im2rec would pack for it."""
