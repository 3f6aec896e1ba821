"""One construct per concept. Constructs are pure: typed, validated values in, objects out."""
