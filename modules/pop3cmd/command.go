// Package pop3cmd adds the `caddy pop3` command to Caddy, with its
// subcommands `caddy pop3 deliver`, which reads one message from stdin and
// delivers it into a user's maildrop through the storage of the pop3
// handler of a config, for Postfix's mailbox_command, fetchmail's mda or
// a script, and `caddy pop3 migrate`, which copies another server's mail
// into that storage keeping UIDLs (see migrate.go).
package pop3cmd

import (
	"context"
	"fmt"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "pop3",
		Usage: "deliver|migrate --config <path> ...",
		Short: "Tools for the POP3 server: deliver a message, migrate mail keeping UIDLs",
		Long: `
Tools for the caddy-pop3 POP3 server.

  caddy pop3 deliver --config <path> --user <name>
      reads one message from stdin and delivers it into the user's maildrop
      through the storage of the config's pop3 handler.

  caddy pop3 migrate --config <path> (--user <name> | --users-from <passwd-file>) --from maildir:<path>|mbox:<path>
      copies mail from another server's maildirs or mbox spools into the
      storage of the config's pop3 handler, keeping UIDLs and received times.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Args = cobra.NoArgs
			cmd.AddCommand(deliverCommand())
			cmd.AddCommand(migrateCommand())
		},
	})
}

// deliverCommand returns the `caddy pop3 deliver` command.
func deliverCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deliver --config <path> --user <name> [--adapter <name>] [--server <name>] [--sender <address>]",
		Short: "Deliver a message from stdin into a user's maildrop",
		Long: `
Reads one RFC 5322 message from stdin and delivers it into the maildrop of
--user, through the storage (maildir, mbox, ...) of the pop3 handler of the
config. Only that storage module is loaded: nothing listens and the admin API
does not start, so it runs next to a running server.

The config is adapted like 'caddy run' does it: a file named Caddyfile (or
*.caddyfile) with the caddyfile adapter, other files as JSON, unless
--adapter says otherwise. When several layer4 servers have a pop3 handler
with different storage, --server names the one to use (the keys of
apps.layer4.servers in the JSON config: srv0, srv1, ... for a Caddyfile).

A leading "From sender date" line (as Postfix's local(8) writes before the
message) is removed; its sender, or --sender, or the Return-Path header field
becomes the envelope sender of an mbox From_ line.

Exit codes (sysexits): 0 delivered; 64 bad usage; 65 empty message;
67 user name not valid for the storage; 73 maildrop not writable
(permissions); 74 stdin unreadable; 75 temporary failure (mailbox locked
past its lock_timeout, I/O error): try again later; 78 config error.

Postfix (main.cf):
  mailbox_command = /usr/local/bin/caddy pop3 deliver --config /etc/caddy/Caddyfile --user "$USER"
fetchmail (.fetchmailrc):
  mda "/usr/local/bin/caddy pop3 deliver --config /etc/caddy/Caddyfile --user %T"
`,
		Args: cobra.ArbitraryArgs,
	}
	fl := cmd.Flags()
	var opts deliverOptions
	fl.StringVarP(&opts.Config, "config", "c", "", "Configuration file (required)")
	fl.StringVarP(&opts.Adapter, "adapter", "a", "", "Name of config adapter to apply")
	fl.StringVarP(&opts.User, "user", "u", "", "User whose maildrop receives the message (required)")
	fl.StringVarP(&opts.Server, "server", "s", "", "Name of the layer4 server whose pop3 handler to use")
	fl.StringVarP(&opts.Sender, "sender", "f", "", "Envelope sender (for the From_ line of an mbox)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "Error: %v\n%s", err, c.UsageString())
		os.Exit(ExitUsage)
		return err
	})
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
			if len(args) > 0 {
				return ExitUsage, fmt.Errorf("unexpected argument %q", args[0])
			}
			return deliver(context.Background(), opts, os.Stdin)
		})(c, args)
	}
	return cmd
}

// migrateCommand returns the `caddy pop3 migrate` command.
func migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate --config <path> (--user <name> | --users-from <passwd-file>) --from maildir:<path>|mbox:<path> [--uidl-format <fmt>] [--adapter <name>] [--server <name>]",
		Short: "Copy mail from another server into the pop3 handler's storage, keeping UIDLs",
		Long: `
Copies the mail of --user, or of every user of the passwd-file --users-from
(Dovecot's format: the user name is the first field), from a maildir or an
mbox spool into the storage of the pop3 handler of the config, keeping each
message's UIDL (as caddy-pop3 shows it for that source) and its received
time, so POP3 clients that leave mail on the server download nothing again.

--from is maildir:<path> or mbox:<path>; in the path %u is the user name,
%n its local part, %d its domain (Dovecot's mail_location variables), e.g.
--from 'maildir:/var/mail/%d/%n/Maildir'. The source is only read: nothing
is moved from new/ to cur/, renamed, locked or written there. A user of
--users-from without a source is reported and skipped. --uidl-format is
the old server's Dovecot pop3_uidl_format, for a source whose UIDLs come
from dovecot-uidlist (same formats as storage maildir/mbox uidl_format).

It is idempotent: a message whose UIDL the target maildrop already has is
not copied again, so a second run copies nothing twice (run it once before
the switch, then again after the old server stopped). A different message
under a UIDL the target already has is not copied and is reported.

Only the storage module is loaded; nothing listens. The target maildrop is
opened once per user (as a POP3 session would), so a user logged in on this
server makes the run fail with 75: run it again.

Exit codes (sysexits): 0 done; 64 bad usage; 65 some messages not copied
(UIDL taken by another message, or one the storage cannot keep); 66 source
or --users-from missing or unreadable; 67 user name not valid for the
storage; 73 target not writable; 74 the source could not be read;
75 temporary failure (maildrop in use, locked, I/O error): run again;
78 config error. With --users-from a user that fails is reported, the
others are still copied, and the exit code is the first failure's.
`,
		Args: cobra.ArbitraryArgs,
	}
	fl := cmd.Flags()
	var opts migrateOptions
	fl.StringVarP(&opts.Config, "config", "c", "", "Configuration file (required)")
	fl.StringVarP(&opts.Adapter, "adapter", "a", "", "Name of config adapter to apply")
	fl.StringVarP(&opts.Server, "server", "s", "", "Name of the layer4 server whose pop3 handler to use")
	fl.StringVarP(&opts.User, "user", "u", "", "The user whose mail to copy")
	fl.StringVar(&opts.UsersFrom, "users-from", "", "A passwd-file: copy the mail of each of its users")
	fl.StringVar(&opts.From, "from", "", "The source: maildir:<path> or mbox:<path>, with %u, %n, %d (required)")
	fl.StringVar(&opts.UIDLFormat, "uidl-format", "", "The source server's Dovecot pop3_uidl_format (default %08Xu%08Xv; mbox: %u and %v only)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "Error: %v\n%s", err, c.UsageString())
		os.Exit(ExitUsage)
		return err
	})
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
			if len(args) > 0 {
				return ExitUsage, fmt.Errorf("unexpected argument %q", args[0])
			}
			return migrate(context.Background(), opts, os.Stdout, os.Stderr)
		})(c, args)
	}
	return cmd
}
