"""What a shopper can ask the assistant to do, as plain Python: the rules of each request, without Rasa.

An action reads its slots, calls one of these, and renders the answer:

- :mod:`knowledge.usecases.orders`: an order's status, cancelling it, changing its address, returning it;
- :mod:`knowledge.usecases.recommendations`: picks that fit a request, and the campaign of a shopper's segment;
- :mod:`knowledge.usecases.search`: the search a message asks for, given the one running, and its page of products;
- :mod:`knowledge.usecases.support`: a person for the shopper (or a message for the team), complaints on record.
"""
