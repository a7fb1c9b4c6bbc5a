#!/usr/bin/python3
"""The Cloudstate shopping cart as a user function in Python, on grpcio (C core).

It speaks the Cloudstate protocol 0.2 itself, with no Cloudstate support library, to show that
a user function written by others works against this proxy unmodified. Behaviour and protos are
the sample's (samples/shopping-cart: cart.ts, proto/shoppingcart.proto, proto/domain.proto):
an event-sourced cart per user, events ItemAdded / ItemRemoved, a snapshot every 5 events.

Message classes are built at run time from a FileDescriptorSet made by protoc (no generated
code); the same set of the user's protos, with their imports, is what discovery sends, as the
Cloudstate Python support does.

    PORT=8080 /usr/bin/python3 shopping_cart.py     (binds 127.0.0.1:$PORT; PROTOC=/usr/bin/protoc)
"""
import os
import platform
import subprocess
import sys
import tempfile
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
INCLUDE_DIRS = [os.path.join(REPO, 'samples', 'shopping-cart', 'proto'), os.path.join(REPO, 'proto'), '/usr/include']
USER_PROTOS = ['shoppingcart.proto', 'domain.proto']
PROTOCOL_PROTOS = ['cloudstate/entity.proto', 'cloudstate/event_sourced.proto']

SERVICE = 'com.example.shoppingcart.ShoppingCart'
DOMAIN = 'com.example.shoppingcart.persistence'
SNAPSHOT_EVERY = 5


def descriptor_set(files):
    """The serialized FileDescriptorSet of `files` and everything they import, made by protoc."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'descriptors.pb')
        include = ['--proto_path=' + d for d in INCLUDE_DIRS]
        subprocess.run([os.environ.get('PROTOC', '/usr/bin/protoc'), '--include_imports', '--descriptor_set_out=' + out, *include, *files], check=True, cwd=tmp)
        with open(out, 'rb') as f:
            return f.read()


# What discovery sends, and a pool with the user's and the protocol's messages.
USER_DESCRIPTORS = descriptor_set(USER_PROTOS)
pool = descriptor_pool.DescriptorPool()
for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set(USER_PROTOS + PROTOCOL_PROTOS)).file:
    pool.Add(file)
factory = message_factory.MessageFactory(pool)


def message(full_name):
    return factory.GetPrototype(pool.FindMessageTypeByName(full_name))


Any = message('google.protobuf.Any')
Empty = message('google.protobuf.Empty')
ProxyInfo = message('cloudstate.ProxyInfo')
EntitySpec = message('cloudstate.EntitySpec')
UserFunctionError = message('cloudstate.UserFunctionError')
ClientAction = message('cloudstate.ClientAction')
StreamIn = message('cloudstate.eventsourced.EventSourcedStreamIn')
StreamOut = message('cloudstate.eventsourced.EventSourcedStreamOut')
EventSourcedReply = message('cloudstate.eventsourced.EventSourcedReply')
Cart = message('com.example.shoppingcart.Cart')
LineItem = message('com.example.shoppingcart.LineItem')
DomainCart = message(DOMAIN + '.Cart')
DomainLineItem = message(DOMAIN + '.LineItem')
ItemAdded = message(DOMAIN + '.ItemAdded')
ItemRemoved = message(DOMAIN + '.ItemRemoved')


def pack(msg):
    return Any(type_url='type.googleapis.com/' + msg.DESCRIPTOR.full_name, value=msg.SerializeToString())


def unpack(any_message):
    return message(any_message.type_url.rsplit('/', 1)[-1]).FromString(any_message.value)


class CommandFailure(Exception):
    """A command the cart refuses: the client gets the message, nothing is emitted."""


class ShoppingCart:
    """One user's cart: product id -> domain LineItem, in the order the products were first added."""

    def __init__(self):
        self.items = {}

    # Event handlers: the only way the state changes (live, and when replayed).
    def apply(self, event):
        kind = event.DESCRIPTOR.full_name
        if kind == ItemAdded.DESCRIPTOR.full_name:
            item = self.items.get(event.item.productId)
            if item is None:
                self.items[event.item.productId] = DomainLineItem(productId=event.item.productId, name=event.item.name, quantity=event.item.quantity)
            else:
                item.quantity += event.item.quantity
        elif kind == ItemRemoved.DESCRIPTOR.full_name:
            self.items.pop(event.productId, None)
        else:
            raise ValueError('unknown event ' + kind)

    def snapshot(self):
        return DomainCart(items=list(self.items.values()))

    def restore(self, snapshot):
        self.items = {}
        for item in snapshot.items:
            self.items[item.productId] = DomainLineItem(productId=item.productId, name=item.name, quantity=item.quantity)

    # Command handlers: (reply, events to emit), or CommandFailure.
    def AddItem(self, add):
        if add.quantity <= 0:
            raise CommandFailure('Cannot add negative quantity of to item ' + add.product_id)
        return Empty(), [ItemAdded(item=DomainLineItem(productId=add.product_id, name=add.name, quantity=add.quantity))]

    def RemoveItem(self, remove):
        if remove.product_id not in self.items:
            raise CommandFailure('Cannot remove item %s because it is not in the cart.' % remove.product_id)
        return Empty(), [ItemRemoved(productId=remove.product_id)]

    def GetCart(self, _get):
        return Cart(items=[LineItem(product_id=i.productId, name=i.name, quantity=i.quantity) for i in self.items.values()]), []


COMMANDS = {'AddItem': ShoppingCart.AddItem, 'RemoveItem': ShoppingCart.RemoveItem, 'GetCart': ShoppingCart.GetCart}
METHODS = pool.FindServiceByName(SERVICE).methods_by_name


def discover(proxy_info, _context):
    print('discovered by %s %s (protocol %d.%d)' % (proxy_info.proxy_name, proxy_info.proxy_version, proxy_info.protocol_major_version, proxy_info.protocol_minor_version), file=sys.stderr, flush=True)
    return EntitySpec(
        proto=USER_DESCRIPTORS,
        entities=[{'entity_type': 'cloudstate.eventsourced.EventSourced', 'service_name': SERVICE, 'persistence_id': 'shopping-cart'}],
        service_info={
            'service_name': 'shopping-cart',
            'service_version': '0.1.0',
            'service_runtime': 'Python %s, grpcio %s' % (platform.python_version(), grpc.__version__),
            'support_library_name': 'none (protocol written by hand)',
            'support_library_version': '0',
            'protocol_major_version': 0,
            'protocol_minor_version': 2,
        },
    )


def report_error(error, _context):
    print('error reported by the proxy: ' + error.message, file=sys.stderr, flush=True)
    return Empty()


def run_command(cart, sequence, command):
    """One command: its EventSourcedStreamOut and the sequence number after its events."""
    handler = COMMANDS.get(command.name)
    if handler is None:
        return StreamOut(failure={'command_id': command.id, 'description': 'Unknown command ' + command.name}), sequence
    request = factory.GetPrototype(METHODS[command.name].input_type).FromString(command.payload.value)
    try:
        response, events = handler(cart, request)
    except CommandFailure as failure:
        action = ClientAction(failure={'command_id': command.id, 'description': str(failure)})
        return StreamOut(reply=EventSourcedReply(command_id=command.id, client_action=action)), sequence
    before = sequence
    for event in events:
        cart.apply(event)
        sequence += 1
    reply = EventSourcedReply(command_id=command.id, client_action={'reply': {'payload': pack(response)}}, events=[pack(e) for e in events])
    if sequence // SNAPSHOT_EVERY > before // SNAPSHOT_EVERY:
        reply.snapshot.CopyFrom(pack(cart.snapshot()))  # the state after all of this reply's events
    return StreamOut(reply=reply), sequence


def handle(stream_in, _context):
    """One entity's stream: init (with its snapshot, if any), the events after it, then commands."""
    cart, sequence = ShoppingCart(), 0
    for msg in stream_in:
        kind = msg.WhichOneof('message')
        if kind == 'init':
            if msg.init.HasField('snapshot'):
                sequence = msg.init.snapshot.snapshot_sequence
                cart.restore(unpack(msg.init.snapshot.snapshot))
        elif kind == 'event':
            cart.apply(unpack(msg.event.payload))
            sequence = msg.event.sequence
        elif kind == 'command':
            out, sequence = run_command(cart, sequence, msg.command)
            yield out


def main():
    port = int(os.environ.get('PORT', '8080'))
    # grpcio runs each stream on a thread of its own for the stream's life: one per active entity.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler('cloudstate.EntityDiscovery', {
            'discover': grpc.unary_unary_rpc_method_handler(discover, request_deserializer=ProxyInfo.FromString, response_serializer=EntitySpec.SerializeToString),
            'reportError': grpc.unary_unary_rpc_method_handler(report_error, request_deserializer=UserFunctionError.FromString, response_serializer=Empty.SerializeToString),
        }),
        grpc.method_handlers_generic_handler('cloudstate.eventsourced.EventSourced', {
            'handle': grpc.stream_stream_rpc_method_handler(handle, request_deserializer=StreamIn.FromString, response_serializer=StreamOut.SerializeToString),
        }),
    ])
    if server.add_insecure_port('127.0.0.1:%d' % port) == 0:
        sys.exit('cannot bind 127.0.0.1:%d' % port)
    server.start()
    print('shopping cart (Python) listening on 127.0.0.1:%d' % port, flush=True)
    server.wait_for_termination()


if __name__ == '__main__':
    main()
