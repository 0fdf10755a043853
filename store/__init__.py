"""The ground floor: models, the write actions, the event log, the read side, REST and admin."""
