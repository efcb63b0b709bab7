"""Text generator: what people say to a voice front-end at home and in a car, in spoken form
(lower case words, numbers spelled out, letters as single characters).

    gen = TextGenerator(seed=1); gen.sentence()  ->  "set the bedroom thermostat to twenty one degrees"
"""
import random

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]

ROOMS = [
    "kitchen",
    "living room",
    "bedroom",
    "master bedroom",
    "bathroom",
    "hallway",
    "garage",
    "office",
    "dining room",
    "basement",
    "attic",
    "porch",
    "garden",
    "nursery",
    "kids room",
    "guest room",
    "laundry room",
    "study",
    "den",
    "patio",
    "upstairs",
    "downstairs",
    "front yard",
    "back yard",
    "hall",
    "closet",
    "playroom",
    "gym",
    "library",
    "balcony",
    "pantry",
    "workshop",
    "loft",
    "cellar",
]
LIGHTS = [
    "lights",
    "light",
    "lamp",
    "ceiling light",
    "floor lamp",
    "desk lamp",
    "reading light",
    "night light",
    "strip lights",
    "spotlights",
    "chandelier",
    "fairy lights",
    "porch light",
]
APPLIANCES = [
    "fan",
    "heater",
    "air conditioner",
    "dishwasher",
    "washing machine",
    "dryer",
    "oven",
    "coffee machine",
    "kettle",
    "robot vacuum",
    "vacuum",
    "humidifier",
    "dehumidifier",
    "air purifier",
    "tv",
    "television",
    "radio",
    "speaker",
    "sprinklers",
    "pool pump",
    "microwave",
    "fridge",
    "freezer",
    "water heater",
    "printer",
    "router",
    "fireplace",
]
COVERS = ["blinds", "curtains", "shades", "shutters", "garage door", "gate", "awning", "window", "skylight"]
LOCKS = ["front door", "back door", "side door", "garage door", "patio door", "gate", "car", "trunk"]
SCENES = [
    "movie night",
    "good night",
    "good morning",
    "dinner",
    "party",
    "relax",
    "reading",
    "away",
    "home",
    "romantic",
    "focus",
    "bedtime",
    "wake up",
    "cleaning",
    "vacation",
    "night mode",
]
PEOPLE = [
    "mom",
    "dad",
    "anna",
    "john",
    "maria",
    "david",
    "sarah",
    "michael",
    "emma",
    "james",
    "olivia",
    "robert",
    "sophia",
    "william",
    "grandma",
    "grandpa",
    "peter",
    "lucy",
    "tom",
    "kate",
    "alex",
    "chris",
    "sam",
    "ben",
    "lisa",
    "mark",
    "julia",
    "daniel",
    "laura",
    "paul",
    "nina",
    "oscar",
    "eric",
    "helen",
    "jack",
    "amy",
    "george",
    "lucas",
    "nicolas",
    "jackson",
    "rachel",
    "steve",
    "victor",
    "zoe",
    "henry",
    "grace",
    "leo",
    "mia",
    "noah",
    "ella",
    "the office",
    "the doctor",
    "my wife",
    "my husband",
    "my sister",
    "my brother",
    "the school",
    "uncle joe",
    "aunt mary",
]
COLORS = [
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "pink",
    "white",
    "warm white",
    "cool white",
    "cyan",
    "magenta",
    "amber",
    "teal",
    "violet",
    "gold",
]
ITEMS = [
    "milk",
    "eggs",
    "bread",
    "butter",
    "cheese",
    "apples",
    "bananas",
    "coffee",
    "tea",
    "rice",
    "pasta",
    "tomatoes",
    "onions",
    "potatoes",
    "chicken",
    "fish",
    "yogurt",
    "cereal",
    "juice",
    "water",
    "soap",
    "toothpaste",
    "paper towels",
    "batteries",
    "dog food",
    "cat food",
    "flour",
    "sugar",
    "salt",
    "pepper",
    "olive oil",
    "orange juice",
    "ice cream",
    "cookies",
    "lettuce",
    "carrots",
    "garlic",
    "lemons",
    "grapes",
    "beer",
    "wine",
    "diapers",
    "shampoo",
    "broccoli",
]
ARTISTS = [
    "the beatles",
    "jazz",
    "classical music",
    "rock",
    "pop music",
    "the news",
    "a podcast",
    "my playlist",
    "relaxing music",
    "country music",
    "the radio",
    "some music",
    "hip hop",
    "the morning show",
    "an audiobook",
    "lo fi beats",
    "queen",
    "mozart",
    "bach",
    "the blues",
]
PLACES = [
    "home",
    "work",
    "the airport",
    "the station",
    "the nearest gas station",
    "the supermarket",
    "the hospital",
    "the school",
    "downtown",
    "the mall",
    "the beach",
    "the park",
    "the gym",
    "the office",
    "a charging station",
    "the nearest pharmacy",
    "the city center",
    "the bank",
    "the restaurant",
    "grandma's house",
    "the parking lot",
    "the train station",
    "the library",
]
CITIES = [
    "london",
    "paris",
    "berlin",
    "new york",
    "boston",
    "chicago",
    "seattle",
    "denver",
    "madrid",
    "rome",
    "tokyo",
    "sydney",
    "toronto",
    "dublin",
    "oslo",
    "vienna",
    "austin",
    "miami",
    "dallas",
]
EVENTS = [
    "meeting",
    "dentist appointment",
    "doctor appointment",
    "lunch",
    "dinner",
    "call",
    "birthday party",
    "soccer practice",
    "piano lesson",
    "yoga class",
    "flight",
    "interview",
]
DAYS = [
    "today",
    "tomorrow",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "tonight",
    "this evening",
    "next week",
    "this weekend",
    "tomorrow morning",
]
REPLIES = [
    "yes",
    "no",
    "cancel",
    "stop",
    "okay",
    "ok",
    "sure",
    "yes please",
    "no thanks",
    "never mind",
    "go ahead",
    "pause",
    "resume",
    "next",
    "previous",
    "repeat",
    "help",
    "confirm",
    "that's right",
    "correct",
    "wrong",
    "not now",
    "thank you",
    "thanks",
    "exit",
    "back",
    "done",
    "skip",
    "play",
    "louder",
    "quieter",
    "again",
    "continue",
    "nope",
    "yeah",
    "all right",
    "hello",
    "goodbye",
]
SIDES = ["driver", "passenger", "front", "rear", "left", "right", "back", "all", "both"]


def number_words(n: int) -> str:
    """0..999999 in words, US style without "and": 1234 -> one thousand two hundred thirty four."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))


class TextGenerator:
    def __init__(self, seed: int = 0):
        self.r = random.Random(seed)
        self.templates = [
            (10, self.lights),
            (5, self.climate),
            (4, self.covers),
            (3, self.locks),
            (3, self.scenes),
            (5, self.appliances),
            (6, self.media),
            (5, self.timers),
            (3, self.reminders),
            (3, self.shopping),
            (2, self.calendar),
            (3, self.weather),
            (2, self.time_date),
            (3, self.navigation),
            (4, self.calls),
            (4, self.car),
            (4, self.numbers),
            (4, self.digits),
            (3, self.phone),
            (2, self.percent),
            (2, self.letters),
            (6, self.replies),
        ]
        self.weights = [w for w, _ in self.templates]

    def c(self, seq):
        return self.r.choice(seq)

    def maybe(self, text, p=0.5):
        return text if self.r.random() < p else ""

    def polite(self, s):
        pre = self.c(["", "", "", "please ", "can you ", "could you ", "hey ", "i want to ", "now "])
        post = self.c(["", "", "", "", " please", " now", " thanks"])
        return pre + s + post

    def sentence(self) -> str:
        f = self.r.choices(self.templates, weights=self.weights)[0][1]
        return " ".join(f().split())

    # ----- home --------------------------------------------------------------------------------
    def lights(self):
        room, light = self.c(ROOMS), self.c(LIGHTS)
        return self.polite(
            self.c(
                [
                    f"turn {self.c(['on', 'off'])} the {room} {light}",
                    f"turn the {room} {light} {self.c(['on', 'off'])}",
                    f"switch {self.c(['on', 'off'])} the {light} in the {room}",
                    f"dim the {room} {light} to {number_words(self.r.randrange(5, 100, 5))} percent",
                    f"set the {room} {light} to {self.c(COLORS)}",
                    f"make the {room} {self.c(['brighter', 'darker', 'warmer', 'cooler'])}",
                    f"{self.c(['lights on', 'lights off'])} in the {room}",
                    f"set brightness to {number_words(self.r.randint(1, 100))} percent",
                    f"turn {self.c(['on', 'off'])} all the lights",
                    f"is the {room} {light} on",
                ]
            )
        )

    def temperature(self):
        if self.r.random() < 0.5:
            return (
                number_words(self.r.randint(16, 30))
                + self.maybe(" point five", 0.2)
                + self.c([" degrees", " degrees celsius", ""])
            )
        return number_words(self.r.randint(60, 85)) + self.c([" degrees", " degrees fahrenheit", ""])

    def climate(self):
        room = self.c(ROOMS)
        return self.polite(
            self.c(
                [
                    f"set the {room} thermostat to {self.temperature()}",
                    f"set the temperature to {self.temperature()}",
                    f"make it {self.c(['warmer', 'cooler'])} in the {room}",
                    f"{self.c(['raise', 'lower'])} the temperature by {number_words(self.r.randint(1, 5))} degrees",
                    f"what's the temperature in the {room}",
                    f"turn the heating {self.c(['on', 'off', 'up', 'down'])}",
                    f"set the air conditioning to {self.c(['cool', 'heat', 'auto', 'eco', 'fan only'])} mode",
                    f"set the humidity to {number_words(self.r.randrange(30, 70, 5))} percent",
                ]
            )
        )

    def covers(self):
        room, cover = self.c(ROOMS), self.c(COVERS)
        return self.polite(
            self.c(
                [
                    f"{self.c(['open', 'close', 'raise', 'lower'])} the {room} {cover}",
                    f"{self.c(['open', 'close'])} the {cover} {self.c(['halfway', 'all the way', ''])}",
                    f"set the {room} {cover} to {number_words(self.r.randrange(0, 101, 10))} percent",
                    f"are the {cover} {self.c(['open', 'closed'])}",
                ]
            )
        )

    def locks(self):
        return self.polite(
            self.c(
                [
                    f"{self.c(['lock', 'unlock'])} the {self.c(LOCKS)}",
                    f"is the {self.c(LOCKS)} locked",
                    f"arm the {self.c(['alarm', 'security system'])}",
                    f"disarm the alarm code {self.digit_string(4)}",
                    f"show me the {self.c(['front door', 'back yard', 'garage', 'driveway', 'baby'])} camera",
                ]
            )
        )

    def scenes(self):
        return self.polite(
            self.c(
                [
                    f"activate {self.c(SCENES)} scene",
                    f"start {self.c(SCENES)}",
                    f"set the scene to {self.c(SCENES)}",
                    f"turn on {self.c(SCENES)} mode",
                    f"{self.c(SCENES)}",
                ]
            )
        )

    def appliances(self):
        app, room = self.c(APPLIANCES), self.c(ROOMS)
        return self.polite(
            self.c(
                [
                    f"turn {self.c(['on', 'off'])} the {app}",
                    f"turn {self.c(['on', 'off'])} the {room} {app}",
                    f"start the {app}",
                    f"stop the {app}",
                    f"set the {app} to {self.c(['low', 'medium', 'high', 'max'])}",
                    f"preheat the oven to {number_words(self.r.randrange(150, 250, 10))} degrees",
                    f"start the {app} in {number_words(self.r.randint(1, 60))} minutes",
                    f"is the {app} {self.c(['on', 'off', 'done', 'running'])}",
                    f"set the fan speed to {number_words(self.r.randint(1, 5))}",
                ]
            )
        )

    def media(self):
        return self.polite(
            self.c(
                [
                    f"play {self.c(ARTISTS)}",
                    f"play {self.c(ARTISTS)} in the {self.c(ROOMS)}",
                    f"set the volume to {number_words(self.r.randint(0, 100))}",
                    f"volume {self.c(['up', 'down'])}",
                    f"turn the volume {self.c(['up', 'down'])}",
                    f"turn it {self.c(['up', 'down'])} a bit",
                    f"{self.c(['mute', 'unmute'])} the {self.c(['tv', 'speaker', 'radio'])}",
                    "skip this song",
                    "next track",
                    "play the previous song",
                    "pause the music",
                    "resume playback",
                    f"switch to channel {number_words(self.r.randint(1, 120))}",
                    f"play radio {number_words(self.r.randint(88, 107))} point {ONES[self.r.randint(1, 9)]}",
                    "shuffle my playlist",
                    "what song is this",
                ]
            )
        )

    def duration(self):
        unit = self.c(["seconds", "minutes", "minutes", "hours"])
        n = self.r.randint(2, 90)
        return self.c(
            [
                f"{number_words(n)} {unit}",
                "one minute",
                "one hour",
                "an hour",
                "half an hour",
                f"{number_words(self.r.randint(1, 3))} hours and {number_words(self.r.randint(5, 55))} minutes",
            ]
        )

    def clock(self):
        h, m = self.r.randint(1, 12), self.r.choice([0, 5, 10, 15, 20, 30, 40, 45, 50, self.r.randint(1, 59)])
        mm = "" if m == 0 else (" oh " + ONES[m] if m < 10 else " " + number_words(m))
        return (
            number_words(h)
            + (self.c([" o'clock", ""]) if m == 0 else mm)
            + self.c([" a m", " p m", "", " in the morning", " tonight"])
        )

    def timers(self):
        return self.polite(
            self.c(
                [
                    f"set a timer for {self.duration()}",
                    f"set a {self.duration()} timer",
                    f"set an alarm for {self.clock()}",
                    f"wake me up at {self.clock()}",
                    f"cancel the {self.c(['timer', 'alarm', 'egg timer', 'pasta timer'])}",
                    "how much time is left on the timer",
                    f"snooze for {number_words(self.r.randint(5, 15))} minutes",
                    f"set a {self.c(['pasta', 'pizza', 'laundry', 'egg', 'tea'])} timer for {self.duration()}",
                ]
            )
        )

    def reminders(self):
        return self.polite(
            self.c(
                [
                    f"remind me to {self.c(['call', 'text', 'email'])} {self.c(PEOPLE)} {self.c(DAYS)}",
                    f"remind me to {self.c(['take out the trash', 'water the plants', 'feed the cat', 'take my pills', 'buy ' + self.c(ITEMS), 'pay the bills'])} at {self.clock()}",  # noqa: E501
                    f"remind me in {self.duration()} to {self.c(['check the oven', 'leave', 'move the car'])}",
                    f"what are my reminders for {self.c(DAYS)}",
                ]
            )
        )

    def shopping(self):
        return self.polite(
            self.c(
                [
                    f"add {self.c(ITEMS)} to the shopping list",
                    f"add {number_words(self.r.randint(1, 12))} {self.c(ITEMS)} to my list",
                    f"add {self.c(ITEMS)} and {self.c(ITEMS)} to the shopping list",
                    f"remove {self.c(ITEMS)} from the list",
                    "what's on my shopping list",
                    "clear the shopping list",
                ]
            )
        )

    def calendar(self):
        return self.polite(
            self.c(
                [
                    f"what's on my calendar {self.c(DAYS)}",
                    f"schedule a {self.c(EVENTS)} {self.c(DAYS)} at {self.clock()}",
                    f"when is my next {self.c(EVENTS)}",
                    f"cancel my {self.c(EVENTS)} {self.c(DAYS)}",
                    f"move my {self.c(EVENTS)} to {self.c(DAYS)}",
                ]
            )
        )

    def weather(self):
        return self.polite(
            self.c(
                [
                    f"what's the weather {self.c(DAYS)}",
                    f"what's the weather in {self.c(CITIES)}",
                    f"will it rain {self.c(DAYS)}",
                    f"do i need an umbrella {self.c(DAYS)}",
                    "how cold is it outside",
                    f"what's the forecast for {self.c(DAYS)}",
                    "is it going to snow",
                ]
            )
        )

    def time_date(self):
        return self.c(
            [
                "what time is it",
                "what's the time",
                "what day is it today",
                "what's the date",
                "what's the date tomorrow",
                f"what time is it in {self.c(CITIES)}",
                "is it the weekend",
            ]
        )

    def navigation(self):
        return self.polite(
            self.c(
                [
                    f"navigate to {self.c(PLACES)}",
                    f"take me to {self.c(PLACES)}",
                    f"how far is {self.c(PLACES)}",
                    f"find the nearest {self.c(['gas station', 'parking', 'coffee shop', 'charging station', 'restaurant'])}",
                    f"how long to get to {self.c(PLACES)}",
                    f"avoid {self.c(['tolls', 'highways', 'traffic'])}",
                    f"drive to {number_words(self.r.randint(1, 999))} {self.c(['main', 'oak', 'park', 'elm', 'first', 'second'])} street",
                    "cancel navigation",
                    "what's my eta",
                ]
            )
        )

    def calls(self):
        p = self.c(PEOPLE)
        return self.polite(
            self.c(
                [
                    f"call {p}",
                    f"call {p} on {self.c(['mobile', 'speaker', 'their cell'])}",
                    f"text {p}",
                    f"send a message to {p} saying {self.c(['i am on my way', 'running late', 'call me back', 'see you soon', 'dinner is ready', 'i love you'])}",  # noqa: E501
                    "read my messages",
                    f"dial {self.phone()}",
                    f"call {self.phone()}",
                    "hang up",
                    "answer the call",
                    "redial",
                    f"reply {self.c(['yes', 'no', 'ok', 'on my way'])}",
                ]
            )
        )

    # ----- car ---------------------------------------------------------------------------------
    def car(self):
        side = self.c(SIDES)
        return self.polite(
            self.c(
                [
                    f"{self.c(['open', 'close', 'roll down', 'roll up'])} the {side} window",
                    f"{self.c(['open', 'close', 'roll down', 'roll up'])} the {side} windows",
                    f"turn {self.c(['on', 'off'])} the {side} seat {self.c(['heater', 'heating', 'cooling', 'massage'])}",
                    f"set the {side} seat heater to level {number_words(self.r.randint(1, 3))}",
                    f"turn {self.c(['on', 'off'])} the wipers",
                    f"set the wipers to {self.c(['slow', 'fast', 'auto'])}",
                    f"open the {self.c(['trunk', 'sunroof', 'fuel door', 'charge port', 'glove box'])}",
                    f"set the fan to {number_words(self.r.randint(1, 7))}",
                    f"turn on the {self.c(['defroster', 'rear defrost', 'fog lights', 'high beams'])}",
                    f"set the cabin temperature to {self.temperature()}",
                    f"how much {self.c(['fuel', 'battery', 'range'])} is left",
                    f"set cruise control to {number_words(self.r.randrange(30, 130, 5))}",
                ]
            )
        )

    # ----- numbers and spelling ----------------------------------------------------------------
    def digit_string(self, n):
        zero = self.c(["zero", "zero", "oh"])
        return " ".join(zero if d == 0 else ONES[d] for d in (self.r.randint(0, 9) for _ in range(n)))

    def phone(self):
        if self.r.random() < 0.5:
            return self.digit_string(3) + " " + self.digit_string(3) + " " + self.digit_string(4)
        return self.digit_string(3) + " " + self.digit_string(4)

    def numbers(self):
        n = self.c(
            [self.r.randint(0, 20), self.r.randint(0, 100), self.r.randint(100, 9999), self.r.randint(0, 999999)]
        )
        return self.c(
            [
                number_words(n),
                number_words(n),
                f"number {number_words(n)}",
                f"set it to {number_words(n)}",
                f"{number_words(n)} point {number_words(self.r.randint(0, 99))}",
                f"minus {number_words(n)}",
            ]
        )

    def digits(self):
        return self.c(
            [
                self.digit_string(self.r.randint(1, 8)),
                self.digit_string(self.r.randint(1, 3)),
                f"the code is {self.digit_string(self.r.randint(4, 6))}",
                f"pin {self.digit_string(4)}",
                ONES[self.r.randint(0, 9)],
                f"room {self.digit_string(3)}",
            ]
        )

    def percent(self):
        return self.c(
            [
                f"{number_words(self.r.randint(0, 100))} percent",
                f"set it to {number_words(self.r.randint(0, 100))} percent",
                f"{self.temperature()}",
                f"{number_words(self.r.randint(-20, 40) % 41)} degrees",
            ]
        )

    def letters(self):
        word = " ".join(self.c(LETTERS) for _ in range(self.r.randint(1, 6)))
        return self.c(
            [
                word,
                f"spell {word}",
                f"letter {self.c(LETTERS)}",
                self.c(LETTERS),
                f"my initials are {self.c(LETTERS)} {self.c(LETTERS)}",
                f"the code is {word}",
            ]
        )

    def replies(self):
        return self.c(REPLIES)


if __name__ == "__main__":
    g = TextGenerator(seed=1)
    for _ in range(40):
        print(g.sentence())
