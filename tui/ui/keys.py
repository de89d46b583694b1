"""Keys typed ahead go to the widget that has focus when their turn comes.

Textual hands each key to the focused widget as soon as the app reads it from the terminal.
A key that moves the focus (Tab, or `n` opening the form) does so only later, once it has
travelled up from that widget to the app, where the bindings run. So the keys read in the
same burst as a Tab (a fast typist over SSH, a password manager, a paste sent as keys) were
already handed to the field that had focus before: `alice`, Tab, `ZZ` typed `aliceZZ`.

`TypeAheadApp` hands a key out only when the keys before it have been dealt with (a widget
stopped them, or they reached the app and its bindings ran), to whatever has focus then.
A screen that is still opening gets its keys once it is mounted and has set its focus
(and, for a screen with a `ready_for_keys` attribute, once that is true).
Characters typed into a text field follow one another at once (they cannot move the focus),
and a key that finds nothing in flight is handed out at once: only bursts wait.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import TypeVar

from textual import events
from textual.app import App, ScreenStackError
from textual.message_pump import MessagePump
from textual.widget import Widget
from textual.widgets import Input

ReturnType = TypeVar("ReturnType")

# How long a key may be in flight before the next is handed out anyway (a widget removed
# while the key was queued to it never reports back).
KEY_TIMEOUT = 1.0
# How often to look again whether a screen being opened is mounted.
SCREEN_OPENING_POLL = 0.01


class TypeAheadApp(App[ReturnType]):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._typed_ahead: deque[events.Event] = deque()
        self._keys_in_flight: list[events.Event] = []
        self._text_target: Widget | None = None  # the field the keys in flight type into, if all do
        self._waiting_for_screen = False
        self._timed_key: events.Event | None = None
        self._screen_of_last_key: object = None  # a new screen sets its focus before keys go to it

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            self._typed_ahead.append(event)
            await self._hand_out_keys()
        else:
            await super().on_event(event)

    async def _hand_out_keys(self) -> None:
        while self._typed_ahead and not self._waiting_for_screen:
            if self._exit:
                self._typed_ahead.clear()
                return
            if not self._screen_is_ready() or self.screen is not self._screen_of_last_key:
                self._wait_for_screen()
                return
            event = self._typed_ahead[0]
            text_target = self._text_field_for(event)
            if self._keys_in_flight and (text_target is None or text_target is not self._text_target):
                break  # it must wait: the keys in flight may move the focus
            self._typed_ahead.popleft()
            target = self.focused or self.screen
            await super().on_event(event)  # priority bindings, else forwarded to the target
            if event.is_forwarded:
                if not self._keys_in_flight:
                    self._text_target = text_target
                self._follow(event, target)
        self._time_first_key_in_flight()

    def _text_field_for(self, event: events.Event) -> Widget | None:
        """The focused text field when `event` is a character typed into it (no binding
        for it anywhere): such a key cannot move the focus, so the next may follow at once."""
        focused = self.focused
        if not isinstance(focused, Input) or not isinstance(event, events.Key) or not event.is_printable:
            return None
        return None if event.key in self.screen.active_bindings else focused

    def _screen_is_ready(self) -> bool:
        """Mounted, and not still loading what its fields show (a screen says so with a
        false `ready_for_keys`: the edit form while it reads the provider)."""
        try:
            screen = self.screen
        except ScreenStackError:  # starting up or shutting down
            return False
        return screen.is_mounted and getattr(screen, "ready_for_keys", True)

    def _wait_for_screen(self) -> None:
        """Another screen came up (or is being opened): keys wait until it is mounted and
        has set its focus. Once it is mounted, through its queue (its ScreenResume, which
        focuses its AUTO_FOCUS widget) and the app's (the focus() its on_mount asked for)."""
        self._waiting_for_screen = True

        def settled() -> None:
            self._waiting_for_screen = False
            self.call_later(self._hand_out_keys)

        def look_again() -> None:
            if self._exit:
                settled()
            elif self._screen_is_ready():
                self._screen_of_last_key = screen = self.screen
                if not screen.call_later(self.call_later, settled):
                    settled()
            else:
                self.set_timer(SCREEN_OPENING_POLL, look_again)

        look_again()

    def _time_first_key_in_flight(self) -> None:
        """Keys wait behind the first one in flight: do not let them wait for ever."""
        key = self._keys_in_flight[0] if self._keys_in_flight else None
        if key is not None and self._typed_ahead and self._timed_key is not key:
            self._timed_key = key
            self.set_timer(KEY_TIMEOUT, partial(self._key_done, key))

    def _follow(self, event: events.Event, node: MessagePump) -> None:
        """Learn when `node` has handled the key: a callback queued right behind it."""
        if event not in self._keys_in_flight:
            self._keys_in_flight.append(event)
        if not node.call_later(self._key_left, event, node):
            self._key_done(event)  # the node is closing: the key goes nowhere

    def _key_left(self, event: events.Event, node: MessagePump) -> None:
        """`node` has handled the key. It bubbles on to the parent as Textual's MessagePump
        does (not stopped, parent still running), and is followed there; else it is done."""
        if event not in self._keys_in_flight:
            return  # given up on already
        parent = node._parent
        bubbles_on = (
            event.bubble
            and not event._stop_propagation
            and parent is not None
            and node.is_parent_active
            and node.is_attached
        )
        if bubbles_on:
            self._follow(event, parent)
        else:
            self._key_done(event)

    def _key_done(self, event: events.Event) -> None:
        if event not in self._keys_in_flight:
            return
        self._keys_in_flight.remove(event)
        if not self._keys_in_flight:
            self._text_target = None
            # Through the app's queue: a focus() called by the key's action is applied first.
            self.call_later(self._hand_out_keys)
