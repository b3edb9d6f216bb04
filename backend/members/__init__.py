"""Members: enrolment, card numbers and the member's own profile."""
