"""The Redis broker transport of the portal: kombu's, with one defect closed (issue 28, R20).

When Redis goes away while a task acknowledged late is running and the worker is waiting on Redis
for the next one, Celery closes the lost connection in two steps: the first (`collect`) closes the
transport and leaves the waiting channel open; the second (`close`) closes that channel, which
gives the running task's message back to the queue through a transport that no longer knows its
broker. kombu then raises AttributeError ('NoneType' object has no attribute 'hostname'), which
is no connection error, so the worker stops with "Unrecoverable error" and delivers nothing until
it is restarted. The same holds for the running task's late acknowledgement.

Here a channel whose connection is closed answers with a connection error instead: Celery ignores
it while cleaning up (and logs "Couldn't ack" for the acknowledgement), reconnects when Redis is
back, and the message left unacknowledged is given back after the visibility timeout
(CELERY_BROKER_TRANSPORT_OPTIONS); every task is idempotent, so running it again does nothing twice.

Selected by CELERY_BROKER_TRANSPORT (portal/settings/broker.py) for redis:// brokers."""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise RedisConnectionError("the broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
