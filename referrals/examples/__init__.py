"""Examples for partner agencies' developers (standard library only, meant to be copied)."""
