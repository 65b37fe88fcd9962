"""What callers say: example phrasings per intent for matching by meaning, and exact word patterns (pure)."""

from __future__ import annotations

import re

# Example phrasings, trade-neutral: a caller turn is read by its nearest examples in embedding space.
# The business profile adds its own examples (services, FAQ, staff topics, address) at load time.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "hours": (
        "what are your hours",
        "what time do you open",
        "what time do you close",
        "when are you open",
        "how late are you open",
        "are you open on the weekend",
        "are you open today",
        "are you open right now",
        "what are your opening times",
        "until what time are you there",
        "when do you guys shut",
        "are you closed on the holiday",
        "what days are you open",
        "is anyone there in the evenings",
        "are you working on saturday",
    ),
    "address": (
        "where are you located",
        "what's your address",
        "how do I get to you",
        "can you give me directions",
        "where do I park",
        "is there parking",
        "what floor are you on",
        "which street is the office on",
        "where exactly is your shop",
        "what's the nearest landmark",
        "what town are you in",
    ),
    "booking": (
        "I'd like to make an appointment",
        "can I book a visit",
        "I need to schedule someone to come out",
        "I want to reschedule my appointment",
        "I need to cancel my appointment",
        "do you have any openings this week",
        "can I get on the schedule",
        "I'd like to come in for a visit",
        "can you fit me in",
        "when's the earliest you could see me",
        "I need to move my booking",
    ),
    "transfer": (
        "can I speak to someone",
        "let me talk to a real person",
        "can you put me through to the manager",
        "I need to speak with a human",
        "transfer me please",
        "is the owner around",
        "can I talk to someone about my bill",
        "connect me with the office",
        "I'd like to speak to somebody in charge",
        "operator",
        "representative",
    ),
    "message": (
        "can I leave a message",
        "please have them call me back",
        "could you take a message",
        "I'd like someone to call me back",
        "tell her I called",
        "can you pass a message on",
        "a message please",
        "just have somebody ring me",
        "I want to leave my number for a callback",
    ),
    "goodbye": (
        "that's all, thanks, bye",
        "no, that's everything",
        "I'm all set, thank you",
        "goodbye",
        "okay thanks, have a good day",
        "that's all I needed",
        "nope, nothing else",
        "great, thanks so much, bye bye",
        "I think that covers it",
        "that answers my question, thanks",
    ),
    "question": (
        "how much does it cost",
        "what are your prices",
        "what do you charge",
        "do you offer that service",
        "what services do you have",
        "do you do that",
        "can I pay with a card",
        "do you take insurance",
        "do you accept",
        "is it possible to",
        "what's your policy on",
    ),
    "hello": (
        "hi",
        "hello",
        "hey there",
        "good morning",
        "hi, how are you",
        "yes hello, is this the right number",
    ),
    "thanks": ("thank you", "thanks a lot", "okay, great", "perfect, thanks", "got it, thank you"),
    "start_over": ("start over", "let's start again", "can we start from the beginning", "let me start over"),
}
# Asking what's on offer as a whole: the list, not one service.
SERVICE_LIST = re.compile(
    r"\b(what|which) (kinds? of |sorts? of |types? of )?(services|treatments|things|work|jobs)\b|"
    r"\bwhat (all )?do you (guys |folks )?(do|offer|provide)\b|\bprice list\b|\bmenu\b|"
    r"\bwhat are your prices\b"
)
YES = re.compile(
    r"\b(yes|yeah|yep|yup|ya|correct|right|sure|exactly|absolutely|ok|okay|please do|it is|go ahead)\b"
)
NO = re.compile(r"\b(no|nope|nah|not|wrong|incorrect|isn't|isnt|don't|dont)\b")
BYE = re.compile(
    r"\b(bye|goodbye|good bye|bye bye|that's all|that is all|that's it|that is it|nothing else|"
    r"that'll be all|that will be all|all set|i'm set|i'm good|no thanks|no thank you|"
    r"have a (good|great|nice) (day|one|night)|"
    r"hang up|that's everything|that's all i needed|talk to you later|take care)\b"
)
NOT_BYE = re.compile(r"\b(but|and also|also|one more|another question|before you go|wait)\b")
LEAVE_MESSAGE = re.compile(
    r"\b(leave|take|pass on|pass along|give \w+|send \w+|pass) (a |my |her |him |them )?(quick )?message\b|"
    r"\b(leave|put me through to|send me to) (a |the |her |his |their )?voicemail\b|^(a )?message( please)?$"
)
MESSAGE = re.compile(
    r"\bgive me a (call|ring|buzz|call back)\b|\b(call|ring|phone) me\b|"
    r"\b(leave|take|pass on|pass along|give \w+|send \w+|pass) (a |my |her |him |them )?(quick )?message\b|"
    r"\bcall me back\b|\bcall back\b|\bcallback\b|"
    r"\bhave (him|her|them|someone|somebody|\w+)( \w+)? (call|ring|phone|give me)\b|"
    r"\bget back to me\b|\b(leave|send me to) (a |her |his |their )?voicemail\b|^(a )?message( please)?$"
)
CANCEL = re.compile(r"\b(never ?mind|cancel that|forget (it|that|about it)|scratch that|don't bother)\b")
START_OVER = re.compile(
    r"\b(start over|start again|from the (top|beginning)|begin again|let me start over)\b"
)
# A question about a staff member, not a request to reach them.
ABOUT_PERSON = re.compile(
    r"\b(good|any good|nice|experienced|qualified|who is|who's|what does|how long has)\b"
)
# "Is Maria in?", "is Dana Wu available": asked of a staff member's name, a request to reach them.
AVAILABLE = re.compile(r"\bis \w+( \w+)? (there|around|available|free|in)\b")
# A statement that asks for something ("a complaint about my haircut"), not just news ("for a wedding").
REQUEST = re.compile(
    r"\b(question|problem|issue|complaint|complain|about|regarding|need|want|help with|"
    r"looking for (someone|somebody|a \w+))\b"
)
# "I have a question about…", "I'm calling about…": the topic says whom to reach.
CALLING_ABOUT = re.compile(
    r"\b(question|calling|call|problem|issue|query|concern) (about|regarding|with|on)\b"
)
PERSON = re.compile(
    r"\b(speak|talk|chat) (to|with)\b|\bconnect me\b|\btransfer\b|\bput me through\b|"
    r"\b(a|an actual|a real|real|live) (person|human|someone|somebody)\b|\bhuman\b|\brepresentative\b|"
    r"\boperator\b|\bget me\b|\bcan i get (the|your)\b|\bwho (handles|deals with)\b|"
    r"\bwho (do|can|would|should) i (talk|speak) (to|with)\b|"
    r"\bis (anyone|anybody|someone|somebody|he|she|they) (there|around|available|in|free)\b"
)
OPEN_NOW = re.compile(
    r"\b(open|closed) (right )?now\b|\bstill open\b|\bopen at the moment\b|\bopen currently\b|"
    r"\bcurrently open\b|\bopen right now\b|"
    r"(\b(are|r) |^)(you|ya) (guys |folks |all )?(still )?open\b(?!.*\b(on|at|this|tomorrow|next)\b)"
)
CLOSING_TIME = re.compile(
    r"\b(close|closing|shut|last appointment|how late|until what time|till what time|open (till|until|til))\b"
)
OPENING_TIME = re.compile(r"\b(open|opening|start|what time do you (guys )?get in)\b")
HOURS_WORDS = re.compile(
    r"\bhours\b|\bopen\b|\bopening\b|\bclose\b|\bclosing\b|\bclosed\b|\bwhat time\b|\blate\b|\bearly\b|"
    r"\bwhen do you\b|\bwhen are you\b|\bschedule\b|\bshut\b|\baround\b|\bworking\b|\bwork on\b|\bthere on\b|"
    r"\bin on\b|\bavailable on\b"
)
PRICE = re.compile(
    r"\bhow much\b|\bprices?\b|\bpricing\b|\bcosts?\b|\bcharge\b|\bfees?\b|\brates?\b|\bquote\b"
)
HELLO = re.compile(
    r"^(hi|hello|hey|good (morning|afternoon|evening)|hiya|howdy|yes hello|hello hello)( there)?$"
)
SMALLTALK = re.compile(r"\bhow are you\b|\bhow's it going\b|\bhow is it going\b|\bhow are things\b")
QUESTION = re.compile(
    r"^(um |uh |so |and |oh |hi |hey |hola |hello |yeah |yes |okay |ok |well |like |sorry |quick question )*"
    r"(do|does|did|can|could|will|would|is|are|was|were|"
    r"what|what's|whats|when|where|who|whom|which|why|how|should|have|has|any|you)\b"
)
# A question asked as a statement: "I was wondering if…", "any chance you…".
INDIRECT_QUESTION = re.compile(
    r"\b(i was|i'm|im|just) wondering\b|\bwondering (if|whether|about)\b|\bi want(ed)? to (know|ask|check)\b|"
    r"\b(do|does) (anyone|anybody) know\b|\bany (way|chance)\b|\bcurious (if|whether|about)\b|"
    r"\btell me (if|whether|how|what|when|where)\b"
)
_DAY = (
    r"(today|tomorrow|tonight|this|next|for|soon|asap|"
    r"(on )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday))"
)
_WHEN = (
    r"(today|tomorrow|tonight|this|next|on|at|for|soon|sometime|before|after|early|asap|right away|by|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
)
BOOKING = re.compile(
    r"\b(appointment|book|booking|schedule|reschedule|fit (me|us|them|him|her)( in)?|"
    rf"be seen {_WHEN}|get (me|us|them|him|her|someone|somebody|a \w+|my \w+) (in|out|over)|"
    r"come (out|look|take a look)|send (someone|somebody|a \w+)|move (my|the|it|that|this)|"
    r"(someone|somebody)( else)? to (come )?(look at|take a look|check)|"
    rf"push (it|my|the)|earliest|get in {_WHEN}|get in with|come in for|set up (a|an|my) \w+|"
    r"anything (open|available)|openings?|availability|slots?|any spots?|next available|"
    r"what's available|whats available|have (me|us) down|"
    r"do you have anything|set (something|it|one|that|them|him|her) up|cancel (my|the|our|her|his)|"
    r"on the (calendar|books|schedule)|scheduled|(a|an) slot|(a|an) (spot|opening) "
    rf"{_DAY}|any \w+ (spots?|openings?|slots?)|see (me|us|him|her|them|someone|somebody))\b"
)
# Asking to book in so many words: a booking even when a profile entry matches the question too.
BOOK = re.compile(
    r"\b(book|schedule|reschedule|make an appointment|get (me|us|them|him|her|my \w+) in|fit \w+ in|"
    r"cancel my|move my)\b"
)
# About booking, not a booking: "do I need an appointment?", "what if I cancel?", "before I book".
NOT_BOOKING = re.compile(
    r"\b(need|needs|without|no|require|required|requires) (an |a )?(appointment|booking)\b|"
    r"\bwalk[- ]?ins?\b|\b(just )?(show up|drop in|pop (in|by)|stop by)\b|\bbefore i book\b|"
    r"\bif i (cancel|reschedule|miss|need to cancel|have to cancel)\b|\bcancellation\b|"
    r"\b(late|cancel(l)?ation|no[- ]show) (fee|policy|charge)\b"
)
# Words that are strong evidence for a generic intent wherever they are said.
INTENT_WORDS = {
    "hours": re.compile(r"\bhours\b|\bopen (till|until|til)\b|\bwhat time do you\b|\bhow late\b"),
    "address": re.compile(
        r"\baddress\b|\bstreet\b|\blocated\b|\blocation\b|\bdirections?\b|\bpark(ing)?\b|\bunit\b|"
        r"\bfloor\b|\bcross street\b|\blandmark\b|\bnear you\b|\bfind you\b|\bwhere are you\b|"
        r"\bintersection\b|\bnext to (you|your|the)\b|\bwhat town\b|\bwhich town\b|\bwhat city\b|"
        r"\bwhere (is|are) (your|the) (shop|office|salon|store|place|building)\b|\bcross streets\b"
    ),
}
# Everyday ways of saying what profiles name in one word: a turn is read as if that word were said too.
EQUIVALENTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"\b(visa|mastercard|master card|amex|american express|discover card|plastic)\b", "credit card"),
        (r"\bdebit\b", "debit card"),
        (r"\bif (i|we) (cancel|miss|don't show|can't make it)\b", "cancellation"),
        (
            r"\b(forms? of payment|ways? to pay|pay (with|by|using)|paying with|kinds? of payment)\b",
            "payment methods",
        ),
        (
            r"\b(payment plans?|pay (it )?(off )?(over time|in installments|monthly)|installments)\b",
            "financing",
        ),
        (r"\b(getting married|bride|bridesmaids?|bridal party)\b", "wedding"),
        (
            r"\b(supposed to be here|on (his|her|their) way|running late|(nobody|no one)('s| has)? shown up|"
            r"where's (he|she|your guy|the tech|my tech))\b",
            "arrival eta",
        ),
        (r"\b(give (us|me|you) a (number|price|ballpark)|ballpark|rough (idea|number|price))\b", "estimate"),
        (r"\b(stand behind|breaks? again|(come|comes|coming) back again|goes wrong again)\b", "guarantee"),
        (
            r"\b(little ones|toddlers?|teenagers?|"
            r"(\d+|two|three|four|five|six|seven|eight|nine|ten) year olds?)\b",
            "kids",
        ),
        (r"\b(just )?(show up|drop by|pop by|swing by|stop by|come by)\b|\bno appointment\b", "walk-in"),
        (r"\bafter (your |the |normal |regular |business |working |usual )+hours\b", "after hours"),
        (
            r"\b(\w+day night|late at night|at night|overnight|"
            r"(one|two|three|four|[1-4]) (am|in the morning))\b",
            "middle of the night",
        ),
        (r"\b(heat|heating|furnace|heater) (goes|went|is|has gone) (out|off|down)\b", "no heat"),
        (r"\b(cross streets?|intersection|nearest corner)\b", "directions"),
        (r"\b(how do i find you|next to you|near you|look for)\b", "directions landmark"),
    )
)
# How long something takes: a question the price doesn't answer.
DURATION = re.compile(
    r"\bhow long (does|do|will|would|is|should)\b|\bhow much time\b|\bhow many (minutes|hours)\b"
)
URGENT = re.compile(r"\b(urgent|emergency|asap|as soon as possible|right away|immediately)\b")


def wants_booking(text: str) -> bool:
    """Whether a (normalised) turn asks to make, move or cancel a booking, not about booking rules."""
    return bool(BOOKING.search(text)) and not NOT_BOOKING.search(text)


def with_equivalents(text: str) -> str:
    """A (normalised) turn plus the one-word names of everyday phrasings it uses (see EQUIVALENTS)."""
    extra = [words for pattern, words in EQUIVALENTS if pattern.search(text)]
    return " ".join([text, *extra])
