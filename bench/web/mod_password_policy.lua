-- SPDX-License-Identifier: MIT
-- bench/web/mod_password_policy.lua: a minimal password policy for the
-- web benchmark (make bench-web).  Debian's prosody-modules ships
-- mod_invites_register_web, which loads mod_password_policy and calls two
-- functions of it: get_policy(), whose `length` field its form template
-- puts into the password input's minlength, and check_password(password,
-- context), which answers true, or nil and a message for the form.
-- Debian does not ship that module; this one provides just those two,
-- with one rule (a minimum length, the same 8 characters invites-web asks
-- for by default), so that web registration can be measured on Prosody.

local min_length = module:get_option_number("bench_password_min_length", 8);

function get_policy()
	return { length = min_length };
end

function check_password(password, context) -- luacheck: ignore 212/context
	if type(password) ~= "string" or #password < min_length then
		return nil, ("The password must have at least %d characters."):format(min_length);
	end
	return true;
end
