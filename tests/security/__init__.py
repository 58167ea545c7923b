"""Issue 7: the holes found by trying the portal as its users and as an attacker would."""
