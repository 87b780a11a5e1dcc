-- The workspace's country (ISO 3166-1 alpha-2): phone numbers written without a country code
-- (lead extraction, customers, forms, phone search) are read in it. Null: the country of the
-- workspace's own phone number is used instead.
alter table public.workspaces
  add column country text check (country ~ '^[A-Z]{2}$');
