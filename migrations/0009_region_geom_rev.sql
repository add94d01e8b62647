-- A region's geometry has its own version: rev moves on every change (tile caches key on
-- it), geom_rev only when the boundary does. Customers are re-assigned, and the cube
-- re-keyed, when geom_rev moves; new attributes (population …) need neither.
ALTER TABLE regions ADD COLUMN geom_rev bigint;
UPDATE regions SET geom_rev = rev;
ALTER TABLE regions ALTER COLUMN geom_rev SET NOT NULL,
	ALTER COLUMN geom_rev SET DEFAULT nextval('region_rev');
