package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
)

func init() { register("user", "manage users, roles and API tokens", userCmd) }

const userUsage = `usage: gcrm user SUBCOMMAND [flags]

  add EMAIL --role ROLE [--name NAME] [--token] [--password-stdin]
                          create a user; prints a new password (and with --token an API token)
  reset EMAIL [--password-stdin]
                          set a new password (prints it) and end the user's sessions
  list                    list users
  role EMAIL ROLE         change a user's role (ends sessions, revokes tokens of the old role)
  disable EMAIL | enable EMAIL
  token EMAIL [--role ROLE] [--name NAME] [--expires-days N]
                          print a new API token (role defaults to the user's)
  tokens [EMAIL]          list API tokens (never their secrets)
  revoke TOKEN_ID         revoke an API token

roles: admin, manager, planner, rep, marketer
`

// userCmd runs "gcrm user …". Every change is written to the audit log with the actor
// "cli:<$USER>".
func userCmd(ctx context.Context, e env) int {
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		fmt.Fprint(e.stdout, userUsage)
		return 0
	}
	sub := e.args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, userUsage) }
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	role := fs.String("role", "", "role: admin, manager, planner, rep or marketer")
	name := fs.String("name", "", "display name (add) or token name (token)")
	withToken := fs.Bool("token", false, "also print a new API token (add)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	days := fs.Int("expires-days", 0, "token lifetime in days (0: never expires)")
	args, err := parseInterleaved(fs, e.args[1:])
	if err != nil {
		return 2
	}
	want := map[string][2]int{"add": {1, 1}, "reset": {1, 1}, "list": {0, 0}, "role": {2, 2}, "disable": {1, 1},
		"enable": {1, 1}, "token": {1, 1}, "tokens": {0, 1}, "revoke": {1, 1}}
	n, ok := want[sub]
	if !ok {
		fmt.Fprintf(e.stderr, "gcrm user: unknown subcommand %q\n\n%s", sub, userUsage)
		return 2
	}
	if len(args) < n[0] || len(args) > n[1] {
		fmt.Fprintf(e.stderr, "gcrm user %s: wrong number of arguments\n\n%s", sub, userUsage)
		return 2
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	c := &userCLI{ctx: ctx, e: e, users: crm.NewUsers(db), audit: crm.NewAudit(db), actor: "cli:" + e.getenv("USER")}
	password := func() (string, error) {
		if !*pwStdin {
			return crm.NewPassword(), nil
		}
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	switch sub {
	case "add":
		err = c.add(args[0], *role, *name, *withToken, *pwStdin, password)
	case "reset":
		err = c.reset(args[0], *pwStdin, password)
	case "list":
		err = c.list()
	case "role":
		err = c.setRole(args[0], args[1])
	case "disable", "enable":
		err = c.users.SetDisabled(ctx, args[0], sub == "disable")
		if err == nil {
			c.record(crm.AuditUserUpdate, "user", crm.NormalizeEmail(args[0]), map[string]any{"disabled": sub == "disable"})
			fmt.Fprintf(e.stdout, "%s %sd\n", crm.NormalizeEmail(args[0]), sub)
		}
	case "token":
		err = c.token(args[0], *role, *name, *days)
	case "tokens":
		email := ""
		if len(args) == 1 {
			email = args[0]
		}
		err = c.tokens(email)
	case "revoke":
		err = c.revoke(args[0])
	}
	if err != nil {
		return fail(e, err)
	}
	return 0
}

// parseInterleaved parses flags that may come before, between or after positional
// arguments ("user add EMAIL --role rep") and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

type userCLI struct {
	ctx   context.Context
	e     env
	users *crm.Users
	audit *crm.Audit
	actor string
}

func (c *userCLI) record(action, objType, objID string, details map[string]any) {
	err := c.audit.Record(c.ctx, &crm.AuditEntry{Actor: c.actor, ActorRole: "cli", Action: action, ObjectType: objType, ObjectID: objID, Details: details})
	if err != nil {
		fmt.Fprintln(c.e.stderr, "gcrm: warning: could not write the audit log:", geo.ErrorMessage(err))
	}
}

func (c *userCLI) add(email, role, name string, withToken, fromStdin bool, password func() (string, error)) error {
	if role == "" {
		return geo.Errorf(geo.EINVALID, "give the user's role with --role (admin, manager, planner, rep or marketer)")
	}
	pw, err := password()
	if err != nil {
		return err
	}
	u := &crm.User{Email: email, Role: role, Name: name}
	if err := c.users.Create(c.ctx, u, pw); err != nil {
		return err
	}
	c.record(crm.AuditUserCreate, "user", u.Email, map[string]any{"role": u.Role})
	fmt.Fprintf(c.e.stdout, "user:     %s (%s)\n", u.Email, u.Role)
	if !fromStdin {
		fmt.Fprintf(c.e.stdout, "password: %s\n", pw)
	}
	if withToken {
		return c.printToken(u, "", "", 0)
	}
	return nil
}

func (c *userCLI) reset(email string, fromStdin bool, password func() (string, error)) error {
	pw, err := password()
	if err != nil {
		return err
	}
	if err := c.users.SetPassword(c.ctx, email, pw); err != nil {
		return err
	}
	c.record(crm.AuditUserUpdate, "user", crm.NormalizeEmail(email), map[string]any{"password": "reset"})
	fmt.Fprintf(c.e.stdout, "user:     %s (sessions ended)\n", crm.NormalizeEmail(email))
	if !fromStdin {
		fmt.Fprintf(c.e.stdout, "password: %s\n", pw)
	}
	return nil
}

func (c *userCLI) list() error {
	list, err := c.users.List(c.ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tROLE\tNAME\tSTATUS\tCREATED")
	for _, u := range list {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Role, u.Name, status, u.CreatedAt.UTC().Format(time.DateOnly))
	}
	return tw.Flush()
}

func (c *userCLI) setRole(email, role string) error {
	if err := c.users.SetRole(c.ctx, email, role); err != nil {
		return err
	}
	c.record(crm.AuditUserUpdate, "user", crm.NormalizeEmail(email), map[string]any{"role": role})
	fmt.Fprintf(c.e.stdout, "%s is now %s\n", crm.NormalizeEmail(email), role)
	return nil
}

func (c *userCLI) token(email, role, name string, days int) error {
	if days < 0 {
		return geo.Errorf(geo.EINVALID, "--expires-days must be 0 (never) or more")
	}
	u, err := c.users.FindByEmail(c.ctx, email)
	if err != nil {
		return err
	}
	if role != "" && role != u.Role {
		// The operator at the console may issue a narrower token for anyone (a service
		// account); the API allows that only to admins.
		u2 := *u
		u2.Role = crm.RoleAdmin
		return c.printTokenAs(u, &u2, role, name, time.Duration(days)*24*time.Hour)
	}
	return c.printToken(u, role, name, time.Duration(days)*24*time.Hour)
}

func (c *userCLI) printToken(u *crm.User, role, name string, ttl time.Duration) error {
	return c.printTokenAs(u, u, role, name, ttl)
}

func (c *userCLI) printTokenAs(u, issuer *crm.User, role, name string, ttl time.Duration) error {
	secret, t, err := c.users.CreateToken(c.ctx, issuer, role, name, ttl)
	if err != nil {
		return err
	}
	c.record(crm.AuditTokenCreate, "token", strconv.FormatInt(t.ID, 10), map[string]any{"owner": u.Email, "role": t.Role, "prefix": t.Prefix})
	fmt.Fprintf(c.e.stdout, "token:    %s   (id %d, role %s; shown once — send it as \"Authorization: Bearer …\")\n", secret, t.ID, t.Role)
	return nil
}

func (c *userCLI) tokens(email string) error {
	var uid int64
	if email != "" {
		u, err := c.users.FindByEmail(c.ctx, email)
		if err != nil {
			return err
		}
		uid = u.ID
	}
	list, err := c.users.Tokens(c.ctx, uid)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tROLE\tNAME\tPREFIX\tCREATED\tLAST USED\tSTATUS")
	for _, t := range list {
		status, last := "active", "never"
		switch {
		case t.RevokedAt != nil:
			status = "revoked"
		case t.ExpiresAt != nil && t.ExpiresAt.Before(time.Now()):
			status = "expired"
		}
		if t.LastUsedAt != nil {
			last = t.LastUsedAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.Email, t.Role, t.Name, t.Prefix,
			t.CreatedAt.UTC().Format(time.DateOnly), last, status)
	}
	return tw.Flush()
}

func (c *userCLI) revoke(arg string) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return geo.Errorf(geo.EINVALID, "%q is not a token id: see 'gcrm user tokens'", arg)
	}
	t, err := c.users.RevokeToken(c.ctx, 0, id)
	if err != nil {
		return err
	}
	c.record(crm.AuditTokenRevoke, "token", arg, map[string]any{"owner": t.Email, "role": t.Role, "prefix": t.Prefix})
	fmt.Fprintf(c.e.stdout, "token %d of %s revoked\n", t.ID, t.Email)
	return nil
}

// Demo users: one per role, rep1…rep5 matching the owners of gcrm demo's records.
var demoUsers = []struct{ email, role, name string }{
	{"admin@demo.gcrm", crm.RoleAdmin, "Ada Admin"},
	{"manager@demo.gcrm", crm.RoleManager, "Max Manager"},
	{"planner@demo.gcrm", crm.RolePlanner, "Pat Planner"},
	{"marketer@demo.gcrm", crm.RoleMarketer, "Mia Marketer"},
	{"rep1@demo.gcrm", crm.RoleRep, "Rita Rep"},
	{"rep2@demo.gcrm", crm.RoleRep, "Rob Rep"},
	{"rep3@demo.gcrm", crm.RoleRep, "Ria Rep"},
	{"rep4@demo.gcrm", crm.RoleRep, "Ray Rep"},
	{"rep5@demo.gcrm", crm.RoleRep, "Ren Rep"},
}

// DemoPassword is every demo user's password. The demo serves on 127.0.0.1 by default;
// anyone exposing it elsewhere is told so when it starts.
const DemoPassword = "gcrm-demo"

// ensureDemoUsers creates the demo users that do not exist yet (one per role; reps own the
// demo records: rep1@demo.gcrm …), resets their password to DemoPassword, and prints how
// to sign in.
func ensureDemoUsers(ctx context.Context, db *postgis.DB, out io.Writer) error {
	users := crm.NewUsers(db)
	audit := crm.NewAudit(db)
	for _, d := range demoUsers {
		u := &crm.User{Email: d.email, Role: d.role, Name: d.name}
		err := users.Create(ctx, u, DemoPassword)
		switch geo.ErrorCode(err) {
		case "":
			_ = audit.Record(ctx, &crm.AuditEntry{Actor: "cli:demo", ActorRole: "cli", Action: crm.AuditUserCreate, ObjectType: "user", ObjectID: u.Email, Details: map[string]any{"role": u.Role}})
		case geo.ECONFLICT:
			if err := users.SetPassword(ctx, d.email, DemoPassword); err != nil {
				return err
			}
			if err := users.SetRole(ctx, d.email, d.role); err != nil {
				return err
			}
		default:
			return err
		}
	}
	fmt.Fprintf(out, "demo users (password %q for all; demo only — do not expose this server):\n", DemoPassword)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, d := range demoUsers {
		what := map[string]string{
			crm.RoleAdmin: "everything, audit log, privacy", crm.RoleManager: "all records, customer imports",
			crm.RolePlanner: "all records, territories, regions and footfall imports", crm.RoleMarketer: "all records, consent-clean exports",
			crm.RoleRep: "only records they own",
		}[d.role]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.email, d.role, what)
	}
	return tw.Flush()
}
