"""Class mode (issue 22): ``mbsim class LESSON`` plays a lesson on the teacher's screen and serves
it to the class; ``mbsim join URL`` follows it on a student's screen.

* :mod:`.protocol`: the messages (JSON text over a websocket), every one checked with caps;
  the room code and the join address; names and answers cleaned of control characters;
* :mod:`.room`: the students, their answers, the tally of a question and the results file
  (pure: no network, no UI);
* :mod:`.state`: what a follower needs to show the teacher's screen (the lesson position, the
  view, the run's journal: :mod:`engine.journal`) and the lesson sent to it;
* :mod:`.server`: the teacher's server (aiohttp, in the teacher's app's event loop);
* :mod:`.teacher` and :mod:`.follower`: the two apps (lesson mode with a class around it).

The teacher's controls exist only in the teacher's process: a follower sends its name and its
answers, nothing else is read from it.
"""
