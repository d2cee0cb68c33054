#!/usr/bin/env python3
"""Hackysack on Python greenlets: the same game as `demos/src/bin/hackysack.rs`.

Grant Olson's benchmark from "Why Stackless" (2006): N players, each a microthread
blocked on its own channel; the sack is kicked to a random other player T times, then
every player is told to go home and ends. The time printed covers creating the players,
the game and the teardown, as in the paper and in the Rust version.

greenlet gives coroutines and a `switch()`, but no scheduler and no channels, so this
file carries the smallest Stackless-style pair that the game needs: a FIFO run queue and
an unbuffered channel whose send prefers the receiver (Stackless's default), exactly the
semantics uthread's `Channel` has.

Install greenlet once:   python3 -m pip install greenlet
Run:                     python3 benches/greenlet/hackysack.py --players 100000 --turns 1000 --json
"""

import argparse
import gc
import json
import random
import sys
import time
from collections import deque

try:
    from greenlet import getcurrent, greenlet
except ImportError:  # pragma: no cover - a message beats a traceback here
    sys.exit("hackysack.py needs greenlet: python3 -m pip install greenlet")


class Scheduler:
    """A FIFO run queue of greenlets, driven from the main greenlet."""

    def __init__(self):
        self.runnable = deque()
        self.main = getcurrent()

    def spawn(self, function, *args):
        # The main greenlet is the parent: a greenlet that returns goes back to run().
        g = greenlet(lambda: function(*args), parent=self.main)
        self.runnable.append(g)
        return g

    def block(self):
        """Switch away from a blocked greenlet; returns what its waker passed in.

        A started greenlet is switched to directly. A new one is started from the main
        greenlet instead: greenlet begins a new greenlet's C stack where its starter's
        stack is, so starting 100,000 of them from inside one another would nest them
        ever deeper (and hit Python's recursion limit after a few hundred).
        """
        if self.runnable and self.runnable[0]:
            return self.runnable.popleft().switch()
        return self.main.switch()

    def run(self):
        while self.runnable:
            self.runnable.popleft().switch()


class Channel:
    """An unbuffered rendezvous channel, preferring the receiver like Stackless."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.receivers = deque()  # greenlets blocked in receive()
        self.senders = deque()  # (greenlet, value) blocked in send()

    def send(self, value):
        if self.receivers:
            # The receiver runs at once; the sender goes to the back of the run queue.
            receiver = self.receivers.popleft()
            self.scheduler.runnable.append(getcurrent())
            receiver.switch(value)
        else:
            self.senders.append((getcurrent(), value))
            self.scheduler.block()

    def receive(self):
        if self.senders:
            sender, value = self.senders.popleft()
            self.scheduler.runnable.append(sender)
            return value
        self.receivers.append(getcurrent())
        return self.scheduler.block()


GO_HOME = object()


class Circle:
    """The players' channels, the random source and the referee's count."""

    def __init__(self, scheduler, players, turns, seed, verbose):
        self.inboxes = [Channel(scheduler) for _ in range(players)]
        self.random = random.Random(seed)
        self.turns = turns
        self.kicks = 0
        self.went_home = 0
        self.verbose = verbose

    def pick_other(self, me):
        pick = self.random.randrange(len(self.inboxes) - 1)
        return pick + 1 if pick >= me else pick


def player(me, circle):
    inbox = circle.inboxes[me]
    while True:
        message = inbox.receive()
        if message is GO_HOME:
            break
        to = circle.pick_other(me)
        if circle.verbose:
            source = "the referee" if message is None else message
            print(f"{me} got the sack from {source}, kicks it to {to}")
        circle.kicks += 1
        if circle.kicks >= circle.turns:
            for other, channel in enumerate(circle.inboxes):
                if other != me:
                    channel.send(GO_HOME)
            break
        circle.inboxes[to].send(me)
    circle.went_home += 1


def play(players, turns, seed, verbose):
    start = time.perf_counter()
    scheduler = Scheduler()
    circle = Circle(scheduler, players, turns, seed, verbose)
    for me in range(players):
        scheduler.spawn(player, me, circle)
    created = time.perf_counter()
    # The referee (the main greenlet) throws the sack to the first player. A send from
    # main would block main, so hand it over from a greenlet of its own.
    scheduler.spawn(circle.inboxes[0].send, None)
    scheduler.run()
    played = time.perf_counter()
    if circle.kicks != turns or circle.went_home != players:
        sys.exit(f"the game did not finish: {circle.kicks} kicks, {circle.went_home} went home")
    del scheduler, circle
    gc.collect()
    done = time.perf_counter()
    return created - start, played - created, done - played


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print every kick")
    parser.add_argument("--json", action="store_true", help="print one line of JSON")
    parser.add_argument("--rounds", type=int, default=1,
                        help="games to play one after the other; the best is best_seconds")
    parser.add_argument("--no-gc", action="store_true",
                        help="turn Python's cyclic garbage collector off for the run")
    args = parser.parse_args()
    if args.players < 2 or args.turns < 1:
        parser.error("it takes at least 2 players and 1 turn")
    if args.no_gc:
        gc.disable()
    rounds = [play(args.players, args.turns, args.seed, args.verbose)
              for _ in range(max(1, args.rounds))]
    create, game, teardown = rounds[0]
    seconds = create + game + teardown
    best = min(sum(r) for r in rounds)
    if args.json:
        print(json.dumps({
            "players": args.players,
            "turns": args.turns,
            "seconds": seconds,
            "create_seconds": create,
            "game_seconds": game,
            "teardown_seconds": teardown,
            "rounds": [{"seconds": sum(r), "create_seconds": r[0], "game_seconds": r[1],
                        "teardown_seconds": r[2]} for r in rounds],
            "best_seconds": best,
            "seed": args.seed,
            "runtime": "python-greenlet",
            "gc": not args.no_gc,
        }))
    else:
        for i, (create, game, teardown) in enumerate(rounds):
            print(f"round {i + 1}: {args.players} players, {args.turns} turns: "
                  f"{create + game + teardown:.3f} s in all (create {create:.3f} s, "
                  f"game {game:.3f} s, teardown {teardown:.3f} s)")
        if len(rounds) > 1:
            print(f"best of {len(rounds)}: {best:.3f} s")


if __name__ == "__main__":
    main()
