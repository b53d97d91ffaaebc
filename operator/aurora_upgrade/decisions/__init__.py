"""Pure decision functions, one module per stage of the upgrade; none of them calls AWS."""
