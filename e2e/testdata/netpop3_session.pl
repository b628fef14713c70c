#!/usr/bin/perl
# Drive the POP3 server with Perl's Net::POP3 and print what it saw as JSON.
#
# Usage: netpop3_session.pl HOST PORT USER PASSWORD DELETE
#
# Logs in, LISTs, UIDLs, RETRs and TOPs (1 body line) every message, DELEs
# message number DELETE and QUITs.
use strict;
use warnings;
use JSON::PP;
use Net::POP3;

my ($host, $port, $user, $password, $delete) = @ARGV;

my $pop = Net::POP3->new($host, Port => $port, Timeout => 20)
  or die "connect: $@\n";
my $count = $pop->login($user, $password);
defined $count or die "login: " . $pop->message;

my %out = (count => $count + 0);
my $list = $pop->list or die "LIST: " . $pop->message;
my $uidl = $pop->uidl or die "UIDL: " . $pop->message;
$out{list} = { map { $_ => $list->{$_} + 0 } keys %$list };
$out{uidl} = $uidl;
for my $n (keys %$list) {
  my $msg = $pop->get($n) or die "RETR $n: " . $pop->message;
  $out{retr}{$n} = join '', @$msg;
  my $top = $pop->top($n, 1) or die "TOP $n: " . $pop->message;
  $out{top1}{$n} = join '', @$top;
}
$pop->delete($delete) or die "DELE $delete: " . $pop->message;
$pop->quit or die "QUIT: " . $pop->message;

print JSON::PP->new->ascii->canonical->encode(\%out), "\n";
