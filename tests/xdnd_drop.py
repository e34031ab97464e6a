#!/usr/bin/python3
"""A real X drag and drop (XDND, version 5) of one file onto a window, for
tests/cli_play.sh: this process is the drag source, the window's toolkit
(SDL2) the target. It sends XdndEnter/XdndPosition, waits for XdndStatus,
drops, serves the text/uri-list selection the target asks for and waits
for XdndFinished. Not a general XDND library.

usage: xdnd_drop.py WINDOW_ID FILE   (exit 0: the target took the drop)"""
import os
import sys
import time
import urllib.parse

from Xlib import X, display
from Xlib.protocol import event


def main():
    wid, path = int(sys.argv[1], 0), os.path.abspath(sys.argv[2])
    d = display.Display()
    root = d.screen().root
    target = d.create_resource_object("window", wid)
    atom = lambda name: d.intern_atom(name)
    aware = target.get_full_property(atom("XdndAware"), X.AnyPropertyType)
    if not aware:
        print("xdnd_drop: window 0x%x is not XdndAware" % wid)
        return 1
    version = min(5, aware.value[0])
    src = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
    src.set_selection_owner(atom("XdndSelection"), X.CurrentTime)
    uri_list = atom("text/uri-list")
    payload = ("file://" + urllib.parse.quote(path) + "\r\n").encode()

    def send(name, data):
        ev = event.ClientMessage(window=target, client_type=atom(name), data=(32, data + [0] * (5 - len(data))))
        target.send_event(ev, event_mask=0)
        d.flush()

    geom = target.get_geometry()
    pos = target.translate_coords(root, 0, 0)  # target's origin in root coordinates (negated)
    x, y = -pos.x + geom.width // 2, -pos.y + geom.height // 2
    send("XdndEnter", [src.id, version << 24, uri_list])
    send("XdndPosition", [src.id, 0, (x << 16) | y, X.CurrentTime, atom("XdndActionCopy")])
    state, deadline = "status", time.time() + 30
    while time.time() < deadline:
        if not d.pending_events():
            time.sleep(0.02)
            continue
        ev = d.next_event()
        if ev.type == X.ClientMessage and ev.client_type == atom("XdndStatus") and state == "status":
            if not ev.data[1][1] & 1:
                print("xdnd_drop: the window does not accept the drop")
                send("XdndLeave", [src.id])
                return 1
            send("XdndDrop", [src.id, 0, X.CurrentTime])
            state = "drop"
        elif ev.type == X.SelectionRequest:
            req = ev.requestor
            ok = ev.target == uri_list
            if ok:
                req.change_property(ev.property, uri_list, 8, payload)
            req.send_event(event.SelectionNotify(time=ev.time, requestor=req, selection=ev.selection,
                                                 target=ev.target, property=ev.property if ok else X.NONE))
            d.flush()
            print("xdnd_drop: served %s" % payload.decode().strip())
        elif ev.type == X.ClientMessage and ev.client_type == atom("XdndFinished"):
            print("xdnd_drop: XdndFinished from 0x%x" % wid)
            return 0
    print("xdnd_drop: no answer from window 0x%x (state %s)" % (wid, state))
    return 1


if __name__ == "__main__":
    sys.exit(main())
