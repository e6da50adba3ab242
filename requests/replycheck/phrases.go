package replycheck

// otherChannel catches a reply that sends the client to email, a phone
// line, a portal, a private chat or "support": «Нет ничего менее
// клиентоориентированного просьбы написать в другой мессенджер» (seed 000),
// «Они заставляют клиентов переключать каналы» (seed 002 §2).
var otherChannel = compile(
	// напишите нам на почту support@…, пришлите логи на почту, пишите в личку
	phrase(`напишите напиши пишите написать отправьте отправь пришлите присылайте вышлите направьте продублируйте перешлите отправляйте шлите скиньте скинь`,
		`{gap6} (?:на|в|во) (?:наш\pL* |нам |мне )?{channel}`),
	phrase(`напишите напиши пишите`, `{gap2} (?:emailaddr|tghandle)`),
	phrase(`отправьте напишите пришлите направьте`, ` (?:нам |мне )?письмо`),
	// позвоните на горячую линию, перезвоните мне
	phrase(`позвоните позвони звоните перезвоните наберите звякните`, ``),
	phrase(`можете можно лучше стоит нужно надо попробуйте советую рекомендую`, `(?: \pL+)? (?:позвонить|набрать|перезвонить)`),
	// создайте тикет в портале, оставьте заявку на сайте
	phrase(`создайте заведите оставьте откройте оформите подайте зарегистрируйте создай заведи оставь`,
		`(?: \pL+)? (?:тикет\pL*|заявк\pL*|обращени\pL*|запрос)`),
	phrase(`можете можно нужно необходимо надо стоит лучше попробуйте`,
		`(?: \pL+)? (?:создать|завести|оставить|оформить|подать) (?:тикет|заявк|обращени|запрос)\pL*`),
	// обратитесь в поддержку, свяжитесь с нами по почте
	phrase(`обратитесь обращайтесь обратиться свяжитесь связаться`,
		`{gap2} (?:в|к|на|с|через|по) (?:наш\pL* )?(?:поддержк\pL*|техподдержк\pL*|служб\pL* поддержки|support|горяч\pL* лини\pL*|колл ?центр\pL*|call ?центр\pL*|хелпдеск\pL*|helpdesk|портал\pL*|сайт\pL*|почт(?:е|у)|телефону|e?mail|emailaddr|оператор\pL*|первую линию|тикет\pL*)`),
	phrase(`давайте`, ` (?:продолжим|перейдем|спишемся|общаться|обсудим){gap2} (?:в|на|по) (?:личк\pL*|лс|whatsapp|ватсап\pL*|вотсап\pL*|viber|вайбер\pL*|почт\pL*|телефону)`),
	// seed 002 §2: «не могли бы вы подписаться и написать мне подробности»
	phrase(`подпиш* подпис*`, ` и напи[сш]\pL*`),
	phrase(`follow`, ` (?:us|me) and (?:dm|message|write)`),
	// please email us at support@…, DM me, message me on WhatsApp
	instruction(`email mail`, ` (?:us|me|our|the|support|emailaddr|at)`),
	instruction(`dm pm`, ` (?:me|us)`),
	instruction(`message dm pm text ping write`,
		`(?: me| us)?(?: directly| privately| in private| in dm| tghandle| emailaddr| on (?:whatsapp|viber|signal|slack|email)| (?:to|at) (?:emailaddr|tghandle|(?:our |the )?(?:support|helpdesk|help desk|support team|email|mailbox|inbox)))`),
	instruction(`send drop shoot`, ` (?:us|me) (?:an? )?(?:email|mail|line|dm|direct message|private message)`),
	instruction(`send forward submit direct mail email`,
		`{gap4} (?:to|at|via|through|on|in|by|over) (?:our |the )?(?:email|mailbox|inbox|emailaddr|tghandle|support|helpdesk|help desk|hotline|portal|support portal|customer portal|whatsapp|viber|dm|private messages?|support team|service desk)`),
	// call our hotline, give us a call
	instruction(`call phone ring dial`, ` (?:us|me|our|the|support|hotline|\d+)`),
	instruction(`give drop`, ` (?:us|me) a (?:call|ring)`),
	instruction(`reach contact`, ` (?:us|me) (?:by|via|on|at|over) (?:phone|email|emailaddr|\d+|the hotline|whatsapp)`),
	// open a ticket on the portal, contact support
	instruction(`open create submit file raise log leave`, ` (?:a |an )?(?:new |separate |support )?(?:ticket|case|support request|request)`),
	instruction(`contact reach get talk speak write turn go ask`,
		`(?: out to| in touch with| to| with)? (?:our |the )?(?:support|helpdesk|help desk|hotline|customer service|customer support|service desk|tech support|technical support|support team|customer care)`),
)

// lookItUp catches a reply that sends the client to find the answer
// themselves: «Просить клиента найти ответ на его вопрос самостоятельно
// "на сайте". Такой ответ — точно не про поддержку» (seed 000).
var lookItUp = compile(
	// посмотрите на сайте, найдите в личном кабинете, ознакомьтесь с документацией
	phrase(`посмотрите смотрите поищите найдите почитайте прочитайте прочтите изучите загляните гляньте ознакомьтесь посмотри найди почитай глянь`,
		`{gap3} (?:на|в|во|с|со) (?:наш\pL* |официальн\pL* |ваш\pL* |сво\pL* )?{place_ru}`),
	phrase(`можете можно стоит попробуйте советую рекомендую предлагаю предлагаем рекомендуем советуем лучше`,
		`(?: \pL+)? (?:посмотреть|найти|почитать|прочитать|изучить|ознакомиться|поискать|глянуть){gap3} (?:на|в|во|с|со) (?:наш\pL* |официальн\pL* |ваш\pL* |сво\pL* )?{place_ru}`),
	// всё есть в документации, это описано на сайте
	phrase(`все это информация ответ ответы подробности инструкция описание`,
		`{gap1} (?:есть|описан\pL*|указан\pL*|написан\pL*|расписан\pL*|доступн\pL*|лежит|лежат|находится|опубликован\pL*|размещен\pL*){gap1} (?:на|в|во) (?:наш\pL* |официальн\pL* )?{place_ru}`),
	phrase(`погуглите загуглите гуглите`, ``),
	phrase(`поищите найдите`, ` (?:в интернете|в гугле|сами|самостоятельно)`),
	phrase(`самостоятельно`, ` (?:найти|поискать|посмотреть)`),
	// check our website, see the FAQ, you can find it in the docs
	instruction(`check see visit read consult refer look browse search go head`,
		`(?: out| to| at| in| on| through| over to)?(?: (?:our|the|your|this))? {place_en}`),
	instruction(`have take`, ` a look(?: at| in| on| through)?(?: (?:our|the|your|this))? {place_en}`),
	instruction(`find look search`, `(?: up| for)?{gap3} (?:in|on) (?:our |the )?{place_en}`),
	instruction(`look`, ` (?:it|this|that) up`),
	instruction(`google`, ` (?:it|this|that)`),
	instruction(`find search look`, `(?: for)? (?:it|this|that|the answer) (?:yourself|on your own)`),
	// it's in the docs, everything is covered in the FAQ
	phrase(`it this that everything all details instructions info information answer answers`,
		`(?: of (?:this|that)| the details)? (?:is|are)(?: all)?(?: explained| described| covered| documented| listed| available| written| detailed| spelled out)?(?: in detail)? (?:in|on) (?:our |the )?{place_en}`),
	phrase(`rtfm`, ``),
)

// refusals say the manager will not deal with it: «Сказать клиенту, что
// не занимаешься этим вопросом» (seed 003 §5). No promise to follow up
// makes them right.
var refusals = compile(
	phrase(`не`, ` ко мне| по моей части| к нам`+
		`| (?:моя|наша) (?:зона ответственности|зона|задача|компетенция|сфера|обязанность|проблема|работа|ответственность|тема|специализация)`+
		`| мой (?:вопрос|профиль|участок|отдел)| наш (?:вопрос|профиль|отдел)`+
		`| в (?:моей|нашей) (?:компетенции|зоне ответственности|зоне|власти)| (?:мои|наши) (?:обязанности|проблемы)`+
		`| занимаюсь (?:этим|такими|таким|этими)| при делах`),
	// seed 003 §5: «Я не знаю, я тут новенький»
	phrase(`я`, ` (?:этим |таким |такими вопросами |такими задачами |этим вопросом |этими вопросами )?не занимаюсь`+
		`| за это не отвечаю| не отвечаю за (?:это|такие|такое|этот)| (?:тут|здесь) (?:новеньк\pL*|новый|новая|недавно)`),
	phrase(`not`, ` my (?:job|department|area|responsibility|problem|team|call|field|role|remit|domain|scope|concern|thing|business)| in my (?:area|department|remit|scope)`),
	phrase(`outside`, `(?: of)? my (?:area|scope|remit|responsibilities|department|competence)`),
	phrase(`above`, ` my pay grade`),
	phrase(`i`, ` (?:dont|do not) (?:handle|deal with|work on|cover) (?:that|this|these|those|such)| (?:am )?(?:just )?new here`),
	phrase(`nothing`, ` to do with me`),
)

// redirections tell the client to take the question to another team
// themselves: «обратитесь в бухгалтерию», "ask sales".
var redirections = compile(
	phrase(`обратитесь обращайтесь обратиться пишите напишите позвоните звоните спросите уточните свяжитесь связаться`,
		`{gap2} (?:в|к|у|с|во) (?:наш\pL* )?{dept_ru}`),
	phrase(`задайте адресуйте`, `(?: этот)? вопрос{gap2} (?:в|к|у|с|во) (?:наш\pL* )?{dept_ru}`),
	instruction(`ask contact email call talk speak check reach get write turn direct take`,
		`(?: to| with| out to| in touch with| (?:this|that|it|your question) to| (?:this|that|it) up with)?(?: our| the)? {dept_en}`),
)

// routings say whose job it is: «Это к бухгалтеру» (seed 003 §5), «Этой
// задачей Вася занимается» (ibid.), "that's for accounting". That is a
// deflection unless the manager also takes it on ("…, I'll pass it on and
// come back to you"): see ownership.
var routings = compile(
	phrase(`это этот такие такой`, `(?: вопрос| вопросы)? (?:к|в) (?:наш\pL* )?{dept_ru}`),
	phrase(`с по`, ` (?:этим|этому вопросу|таким вопросам) (?:к|в) (?:наш\pL* )?{dept_ru}`),
	phrase(`это этот`, ` вопрос для (?:наш\pL* )?{dept_ru}`),
	phrase(`этой этим такими этими`, `(?: задачей| вопросом| вопросами| задачами| темой)?{gap2} занима(?:ется|ются)`),
	phrase(`это этот такие`, `(?: вопрос| вопросы)? (?:решает|решают|ведет|ведут) (?:наш\pL* )?{dept_ru}`),
	phrase(`that this it these those`, `(?: is| are)? (?:a question |a matter |something |one |an issue |a topic )?for (?:our |the )?{dept_en}`),
	phrase(`that this it`, `(?: is)? (?:handled|managed|dealt with|owned|done) by (?:our |the )?{dept_en}`),
	phrase(`sales accounting billing finance legal`, `(?: team| department)? (?:handles|deals with|takes care of|owns|is responsible for) (?:that|this|it|these|those)`),
)

// ownership is the manager taking the question on: passing it on
// themselves, promising to come back.
var ownership = compile(
	phrase(`я мы`, `{gap3} (?:передам|передал|передала|передали|передадим|уточню|уточним|узнаю|узнаем|выясню|выясним|спрошу|спросим|вернусь|вернемся|свяжусь|свяжемся|прослежу|проследим|возьму|займусь|займемся|эскалирую|эскалировал\pL*|поставил\pL*|поставлю|переслал\pL*|перешлю|подключу|подключил\pL*|напишу|напишем|сообщу|сообщим)`),
	phrase(`передам уточню узнаю выясню вернусь вернемся прослежу займусь подключу перешлю сообщу`, ``),
	phrase(`держ*`, `(?: вас)? в курсе`),
	phrase(`i we`, `{gap3} (?:forward|forwarded|pass|passed|escalate|escalated|check|ask|asked|follow up|get back|come back|chase|find out|take care|handle|loop|looped|sort|raise|raised|contact|contacted|reach out|reached out|bring)`),
	phrase(`myself ourselves`, ``),
	phrase(`get come`, ` back to you`),
	phrase(`keep`, ` you (?:posted|updated|informed)`),
)

// deflects reports whether the reply says it is someone else's job.
func deflects(found findings) bool {
	return found.has(refusals) || found.has(redirections) ||
		found.has(routings) && !found.has(ownership)
}
