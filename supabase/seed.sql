-- Seed for `supabase db reset`: the demo admin that `make dev` also creates in the embedded
-- mode (password: demo-password; change it). Supabase has pgcrypto for the bcrypt hash.
-- The demo workspace appears on this user's first request to the API.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated',
       'authenticated', 'demo@voxtro.io', extensions.crypt('demo-password', extensions.gen_salt('bf')),
       now(), '{"provider": "email", "providers": ["email"]}', '{"full_name": "Demo Admin"}',
       now(), now()
where not exists (select 1 from auth.users where email = 'demo@voxtro.io');
