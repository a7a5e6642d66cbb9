DROP TABLE IF EXISTS console_signin_codes;
