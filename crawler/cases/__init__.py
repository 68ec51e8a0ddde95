"""Cases: their lifecycle, the evidence captured for them, removal checks, seller networks."""
