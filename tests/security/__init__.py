"""Tests of issue 7 ("close the holes"): each names the item it proves."""
