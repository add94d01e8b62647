package crm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
)

// Roles.
const (
	RoleAdmin    = "admin"
	RoleManager  = "manager"
	RolePlanner  = "planner"
	RoleRep      = "rep"
	RoleMarketer = "marketer"
)

// Roles lists every role.
var Roles = []string{RoleAdmin, RoleManager, RolePlanner, RoleRep, RoleMarketer}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	for _, r := range Roles {
		if r == role {
			return true
		}
	}
	return false
}

// User is someone who signs in to gcrm. Role is the role in effect: for a caller signed in
// with an API token it is the token's role.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ScopeFor returns the data scope of u: a rep sees records they own (territories assigned
// to them will widen this); a manager sees everything until territories exist (then the
// territories under their node); planners, admins and marketers see everything. A nil user
// sees nothing — the scope fails closed.
func ScopeFor(u *User) Scope {
	if u == nil || u.Disabled {
		return Scope{Restricted: true}
	}
	switch u.Role {
	case RoleAdmin, RolePlanner, RoleManager, RoleMarketer:
		return Scope{}
	case RoleRep:
		return Scope{Restricted: true, Owners: []string{u.Email}}
	}
	return Scope{Restricted: true}
}

// Users keeps users, their sessions and API tokens in PostGIS.
type Users struct {
	DB *postgis.DB
	// Limits on failed sign-ins within LoginWindow: per account and per address.
	LoginWindow     time.Duration
	MaxFailsAccount int
	MaxFailsAddress int
	SessionIdle     time.Duration // a session unused this long ends
	SessionLifetime time.Duration // a session ends this long after sign-in, used or not
}

// NewUsers returns a Users store on db with default limits: 10 failures per account and
// 50 per address in 15 minutes; sessions end after 2 hours idle or 12 hours in all.
func NewUsers(db *postgis.DB) *Users {
	return &Users{
		DB: db, LoginWindow: 15 * time.Minute, MaxFailsAccount: 10, MaxFailsAddress: 50,
		SessionIdle: 2 * time.Hour, SessionLifetime: 12 * time.Hour,
	}
}

// NormalizeEmail trims and lower-cases an e-mail address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// AttemptedEmail is what may be kept of the e-mail a sign-in was tried with: the address
// when it is one, else "(not an e-mail address)" — people type passwords into the wrong
// field, and those must not end up in the audit log or the attempts table.
func AttemptedEmail(s string) string {
	s = NormalizeEmail(s)
	if len(s) > 320 || !validEmail(s) {
		return "(not an e-mail address)"
	}
	return s
}

const userColumns = `id, email, name, role, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (*User, error) {
	var u User
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	return &u, nil
}

// Create adds u with password (which may be "" for a user who signs in only with tokens).
// Returns EINVALID for a bad e-mail, role or short password and ECONFLICT when the e-mail
// is taken.
func (s *Users) Create(ctx context.Context, u *User, password string) error {
	u.Email = NormalizeEmail(u.Email)
	if !validEmail(u.Email) {
		return geo.Errorf(geo.EINVALID, "%q is not an e-mail address", u.Email)
	}
	if !ValidRole(u.Role) {
		return geo.Errorf(geo.EINVALID, "role %q is not one of %s", u.Role, strings.Join(Roles, ", "))
	}
	hash := ""
	if password != "" {
		if err := checkPassword(password); err != nil {
			return err
		}
		hash = HashPassword(password)
	}
	err := s.DB.Pool.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at, updated_at`, u.Email, u.Name, u.Role, hash).Scan(&u.ID, &u.CreatedAt, &u.UpdatedAt)
	if geo.ErrorCode(postgis.Wrap(err)) == geo.ECONFLICT {
		return geo.Errorf(geo.ECONFLICT, "a user %s already exists", u.Email)
	}
	return postgis.Wrap(err)
}

func checkPassword(p string) error {
	if len(p) < 8 || len(p) > 1024 {
		return geo.Errorf(geo.EINVALID, "a password must have 8 to 1024 characters")
	}
	return nil
}

// FindByEmail returns the user with email; ENOTFOUND when there is none.
func (s *Users) FindByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.DB.Pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, NormalizeEmail(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, geo.Errorf(geo.ENOTFOUND, "there is no user %s", NormalizeEmail(email))
	}
	return u, postgis.Wrap(err)
}

// List returns every user ordered by e-mail.
func (s *Users) List(ctx context.Context) ([]*User, error) {
	rows, err := s.DB.Pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*User, error) { return scanUser(r) })
	return list, postgis.Wrap(err)
}

// SetPassword replaces the password of the user with email and ends their sessions.
// Returns ENOTFOUND or EINVALID.
func (s *Users) SetPassword(ctx context.Context, email, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	return s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2, updated_at = now() WHERE email = $1 RETURNING id`,
			NormalizeEmail(email), HashPassword(password)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return geo.Errorf(geo.ENOTFOUND, "there is no user %s", NormalizeEmail(email))
		}
		if err != nil {
			return postgis.Wrap(err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return postgis.Wrap(err)
	})
}

// SetRole changes the role of the user with email; their sessions end and their tokens
// of another role are revoked, so no credential keeps the old rights. Returns ENOTFOUND
// or EINVALID.
func (s *Users) SetRole(ctx context.Context, email, role string) error {
	if !ValidRole(role) {
		return geo.Errorf(geo.EINVALID, "role %q is not one of %s", role, strings.Join(Roles, ", "))
	}
	return s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE users SET role = $2, updated_at = now() WHERE email = $1 RETURNING id`,
			NormalizeEmail(email), role).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return geo.Errorf(geo.ENOTFOUND, "there is no user %s", NormalizeEmail(email))
		}
		if err != nil {
			return postgis.Wrap(err)
		}
		if _, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return postgis.Wrap(err)
		}
		_, err = tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND role <> $2 AND revoked_at IS NULL`, id, role)
		return postgis.Wrap(err)
	})
}

// SetDisabled disables or re-enables the user with email; disabling ends their sessions.
func (s *Users) SetDisabled(ctx context.Context, email string, disabled bool) error {
	return s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE users SET disabled = $2, updated_at = now() WHERE email = $1 RETURNING id`,
			NormalizeEmail(email), disabled).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return geo.Errorf(geo.ENOTFOUND, "there is no user %s", NormalizeEmail(email))
		}
		if err != nil || !disabled {
			return postgis.Wrap(err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return postgis.Wrap(err)
	})
}

// ErrTooManyAttempts is the error of Authenticate when a rate limit is reached.
var ErrTooManyAttempts = geo.Errorf(geo.EUNAUTHORIZED, "too many failed sign-ins: wait 15 minutes and try again")

// errBadCredentials says nothing about which part was wrong.
var errBadCredentials = geo.Errorf(geo.EUNAUTHORIZED, "the e-mail address or password is wrong")

// Authenticate checks email and password, rate-limited per account and per address, and
// records the attempt. Every failure — unknown user, wrong password, disabled user — is the
// same EUNAUTHORIZED error and costs the same time; ErrTooManyAttempts when a limit is hit.
func (s *Users) Authenticate(ctx context.Context, email, password, address string) (*User, error) {
	email = AttemptedEmail(email)
	var failsAccount, failsAddress int
	err := s.DB.Pool.QueryRow(ctx, `
		SELECT
			(SELECT count(*) FROM login_attempts a WHERE a.email = $1 AND NOT a.ok AND a.at > now() - $3::interval
				AND a.at > coalesce((SELECT max(at) FROM login_attempts o WHERE o.email = $1 AND o.ok), '-infinity')),
			(SELECT count(*) FROM login_attempts a WHERE a.address = $2 AND NOT a.ok AND a.at > now() - $3::interval)`,
		email, address, s.LoginWindow).Scan(&failsAccount, &failsAddress)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	if failsAccount >= s.MaxFailsAccount || failsAddress >= s.MaxFailsAddress {
		return nil, ErrTooManyAttempts
	}
	var hash string
	var u *User
	row := s.DB.Pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = $1`, email)
	var uu User
	err = row.Scan(&uu.ID, &uu.Email, &uu.Name, &uu.Role, &uu.Disabled, &uu.CreatedAt, &uu.UpdatedAt, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, postgis.Wrap(err)
	default:
		u = &uu
	}
	ok := false
	if u != nil && hash != "" {
		ok = VerifyPassword(hash, password)
	} else {
		VerifyPassword(dummyHash(), password) // same cost as a real check
	}
	if u != nil && u.Disabled {
		ok = false
	}
	if _, err := s.DB.Pool.Exec(ctx, `INSERT INTO login_attempts (email, address, ok) VALUES ($1, $2, $3)`, email, address, ok); err != nil {
		return nil, postgis.Wrap(err)
	}
	if !ok {
		return nil, errBadCredentials
	}
	return u, nil
}

// PruneLoginAttempts deletes attempts older than a day (they no longer count anywhere).
func (s *Users) PruneLoginAttempts(ctx context.Context) error {
	_, err := s.DB.Pool.Exec(ctx, `DELETE FROM login_attempts WHERE at < now() - interval '1 day'`)
	return postgis.Wrap(err)
}

// Session is a signed-in browser.
type Session struct {
	User      *User
	CSRFToken string
	ExpiresAt time.Time
}

// Secret prefixes tell credentials apart (and let secret scanners recognise them).
const (
	sessionPrefix = "gcs_"
	tokenPrefix   = "gcrm_"
)

func newSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ValidSecret reports whether s has the shape of a credential gcrm issued with prefix:
// the prefix and 43 base64url characters (32 random bytes). Anything else is refused
// before it reaches the database.
func ValidSecret(s, prefix string) bool {
	if !strings.HasPrefix(s, prefix) || len(s) != len(prefix)+43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	return err == nil && len(b) == 32
}

// ValidSessionToken reports whether s has the shape of a session cookie value.
func ValidSessionToken(s string) bool { return ValidSecret(s, sessionPrefix) }

// ValidAPIToken reports whether s has the shape of an API token.
func ValidAPIToken(s string) bool { return ValidSecret(s, tokenPrefix) }

// CreateSession starts a session for u and returns the cookie secret and the session.
func (s *Users) CreateSession(ctx context.Context, u *User, address, userAgent string) (string, *Session, error) {
	secret := newSecret(sessionPrefix)
	sess := &Session{User: u, CSRFToken: newSecret("")}
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	err := s.DB.Pool.QueryRow(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, address, user_agent, expires_at)
		VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING expires_at`,
		hashSecret(secret), u.ID, sess.CSRFToken, address, userAgent, s.SessionLifetime).Scan(&sess.ExpiresAt)
	if err != nil {
		return "", nil, postgis.Wrap(err)
	}
	return secret, sess, nil
}

// FindSession returns the live session with the cookie secret and marks it used; an
// unknown, idle-expired or expired session, or one of a disabled user, is EUNAUTHORIZED.
func (s *Users) FindSession(ctx context.Context, secret string) (*Session, error) {
	if !ValidSessionToken(secret) {
		return nil, geo.Errorf(geo.EUNAUTHORIZED, "your session has ended: sign in again")
	}
	var sess Session
	var u User
	var lastSeen time.Time
	err := s.DB.Pool.QueryRow(ctx, `
		SELECT u.id, u.email, u.name, u.role, u.disabled, u.created_at, u.updated_at, s.csrf_token, s.expires_at, s.last_seen_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval AND NOT u.disabled`,
		hashSecret(secret), s.SessionIdle).Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt,
		&sess.CSRFToken, &sess.ExpiresAt, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, geo.Errorf(geo.EUNAUTHORIZED, "your session has ended: sign in again")
	}
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	if time.Since(lastSeen) > time.Minute { // touch at most once a minute: tiles come in bursts
		if _, err := s.DB.Pool.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1`, hashSecret(secret)); err != nil {
			return nil, postgis.Wrap(err)
		}
	}
	sess.User = &u
	return &sess, nil
}

// DeleteSession ends the session with the cookie secret (signing out). Ending an unknown
// session is not an error.
func (s *Users) DeleteSession(ctx context.Context, secret string) error {
	_, err := s.DB.Pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hashSecret(secret))
	return postgis.Wrap(err)
}

// PruneSessions deletes ended sessions.
func (s *Users) PruneSessions(ctx context.Context) error {
	_, err := s.DB.Pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < now() OR last_seen_at < now() - $1::interval`, s.SessionIdle)
	return postgis.Wrap(err)
}

// Token is an API token as listed (its secret is shown once, at creation, and never kept).
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Email      string     `json:"email"`
	Name       string     `json:"name,omitempty"`
	Prefix     string     `json:"prefix"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// CreateToken issues an API token for u with role ("" for u's own role) and returns its
// secret. Only an admin may issue a token of another role (for a service account with
// fewer rights). ttl 0 means it does not expire. Returns EINVALID or EFORBIDDEN.
func (s *Users) CreateToken(ctx context.Context, u *User, role, name string, ttl time.Duration) (string, *Token, error) {
	if role == "" {
		role = u.Role
	}
	if !ValidRole(role) {
		return "", nil, geo.Errorf(geo.EINVALID, "role %q is not one of %s", role, strings.Join(Roles, ", "))
	}
	if role != u.Role && u.Role != RoleAdmin {
		return "", nil, geo.Errorf(geo.EFORBIDDEN, "a %s can only create tokens with the role %s", u.Role, u.Role)
	}
	if len(name) > 200 {
		return "", nil, geo.Errorf(geo.EINVALID, "a token name has at most 200 characters")
	}
	secret := newSecret(tokenPrefix)
	t := &Token{UserID: u.ID, Email: u.Email, Name: name, Prefix: secret[:len(tokenPrefix)+6], Role: role}
	var exp *time.Time
	if ttl > 0 {
		e := time.Now().Add(ttl)
		exp = &e
	}
	err := s.DB.Pool.QueryRow(ctx, `INSERT INTO api_tokens (user_id, name, prefix, token_hash, role, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created_at, expires_at`,
		u.ID, name, t.Prefix, hashSecret(secret), role, exp).Scan(&t.ID, &t.CreatedAt, &t.ExpiresAt)
	if err != nil {
		return "", nil, postgis.Wrap(err)
	}
	return secret, t, nil
}

// FindToken returns the user of a live API token, with Role set to the token's role.
// A revoked, expired, unknown or malformed token, or one of a disabled user, is
// EUNAUTHORIZED.
func (s *Users) FindToken(ctx context.Context, secret string) (*User, *Token, error) {
	bad := geo.Errorf(geo.EUNAUTHORIZED, "the API token is not valid: it may have been revoked or have expired")
	if !ValidAPIToken(secret) {
		return nil, nil, bad
	}
	var u User
	var t Token
	err := s.DB.Pool.QueryRow(ctx, `
		SELECT u.id, u.email, u.name, u.role, u.disabled, u.created_at, u.updated_at,
			t.id, t.name, t.prefix, t.role, t.created_at, t.last_used_at, t.expires_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled`,
		hashSecret(secret)).Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Disabled, &u.CreatedAt, &u.UpdatedAt,
		&t.ID, &t.Name, &t.Prefix, &t.Role, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, postgis.Wrap(err)
	}
	t.UserID, t.Email = u.ID, u.Email
	u.Role = t.Role
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > time.Minute {
		if _, err := s.DB.Pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, t.ID); err != nil {
			return nil, nil, postgis.Wrap(err)
		}
	}
	return &u, &t, nil
}

// Tokens lists the tokens of the user with userID, or of everyone when userID is 0, newest
// first.
func (s *Users) Tokens(ctx context.Context, userID int64) ([]*Token, error) {
	rows, err := s.DB.Pool.Query(ctx, `
		SELECT t.id, t.user_id, u.email, t.name, t.prefix, t.role, t.created_at, t.last_used_at, t.expires_at, t.revoked_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE $1 = 0 OR t.user_id = $1 ORDER BY t.id DESC`, userID)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.UserID, &t.Email, &t.Name, &t.Prefix, &t.Role, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt, &t.RevokedAt)
		return &t, err
	})
	return list, postgis.Wrap(err)
}

// RevokeToken revokes the token with id. With userID ≠ 0 only a token of that user can be
// revoked. Returns ENOTFOUND when there is no such live token.
func (s *Users) RevokeToken(ctx context.Context, userID, id int64) (*Token, error) {
	var t Token
	err := s.DB.Pool.QueryRow(ctx, `UPDATE api_tokens t SET revoked_at = now() FROM users u
		WHERE t.id = $1 AND u.id = t.user_id AND ($2 = 0 OR t.user_id = $2) AND t.revoked_at IS NULL
		RETURNING t.id, t.user_id, u.email, t.name, t.prefix, t.role, t.created_at, t.revoked_at`, id, userID).
		Scan(&t.ID, &t.UserID, &t.Email, &t.Name, &t.Prefix, &t.Role, &t.CreatedAt, &t.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, geo.Errorf(geo.ENOTFOUND, "token %d not found (or already revoked)", id)
	}
	return &t, postgis.Wrap(err)
}

// NewPassword returns a random password of 20 characters for a user to change later.
func NewPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Argon2id parameters (OWASP's second recommended set: 19 MiB, 2 passes, 1 lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
)

// HashPassword returns the argon2id hash of password as a PHC string
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func HashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// phc is a parsed argon2id PHC string.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// ParsePasswordHash parses an argon2id PHC string, refusing parameters outside sane
// bounds so a tampered row cannot make a check take minutes or gigabytes.
func parsePasswordHash(s string) (*phc, error) {
	bad := errors.New("not an argon2id hash")
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, bad
	}
	var p phc
	var threads uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, bad
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, bad
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			threads = n
		default:
			return nil, bad
		}
	}
	if p.memory < 8 || p.memory > 1<<20 || p.time < 1 || p.time > 16 || threads < 1 || threads > 16 {
		return nil, bad
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return nil, bad
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return nil, bad
	}
	return &p, nil
}

// VerifyPassword reports whether password matches the PHC hash, in constant time.
func VerifyPassword(hash, password string) bool {
	p, err := parsePasswordHash(hash)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// dummyHash is a valid hash of nothing anyone knows, checked when the user does not exist
// so that a sign-in takes as long either way.
var dummyHash = sync.OnceValue(func() string { return HashPassword(newSecret("")) })
